fn main() {
    println!("tusk: being written");
}
