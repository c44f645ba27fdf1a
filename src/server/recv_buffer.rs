//! The read buffer of an established connection, which costs memory only for the bytes
//! that arrived.
//!
//! tokio's `BufReader` fills its buffer with zeroes when it makes it, so all of it is
//! resident for the connection's life even when the client only ever sends short
//! queries; a thousand idle connections kept 8 MB of zeroes. [`RecvBuffer`] reads into
//! the spare capacity of a `Vec` without initializing it first: a page of it becomes
//! resident only when the kernel copies data there. It otherwise behaves as `BufReader`:
//! reads are served from the buffer, a read larger than the buffer when it is empty goes
//! straight to the socket, and writes pass through untouched (the connection writes its
//! replies through the same handle).
//!
//! This module owns buffering only: it must never interpret the bytes (framing is
//! [`super::protocol`]'s) and never read ahead of what one `read` of the socket returns.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

/// A buffered reader over `inner` whose buffer is never zero-filled.
pub struct RecvBuffer<R> {
    inner: R,
    /// Bytes read from `inner`; `data[pos..]` are not consumed yet.
    data: Vec<u8>,
    pos: usize,
    capacity: usize,
}

impl<R> RecvBuffer<R> {
    /// A reader with a buffer of `capacity` bytes, reserved at the first read.
    pub fn with_capacity(capacity: usize, inner: R) -> Self {
        RecvBuffer {
            inner,
            data: Vec::new(),
            pos: 0,
            capacity: capacity.max(1),
        }
    }

    /// Sets how much one read of the socket may take from now on: a COPY's input is
    /// read in large pieces, a connection's usual buffer stays small. A buffer grown
    /// beyond twice the new size is given back once nothing in it is pending.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        if self.pos >= self.data.len() {
            self.release_if_oversized();
        }
    }

    fn release_if_oversized(&mut self) {
        if self.data.capacity() > 2 * self.capacity {
            self.data = Vec::new();
            self.pos = 0;
        }
    }

    /// The bytes read from the socket and not consumed yet.
    pub fn buffer(&self) -> &[u8] {
        &self.data[self.pos..]
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for RecvBuffer<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos >= this.data.len() {
            this.data.clear();
            this.pos = 0;
            this.release_if_oversized();
            this.data.reserve(this.capacity);
            let spare = &mut this.data.spare_capacity_mut()[..this.capacity];
            let mut read = ReadBuf::uninit(spare);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let n = read.filled().len();
            // SAFETY: `poll_read` initialized the first `n` bytes of the spare capacity
            // (ReadBuf's filled part), and the vector was empty before it.
            unsafe { this.data.set_len(n) };
        }
        Poll::Ready(Ok(&this.data[this.pos..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.data.len());
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for RecvBuffer<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Nothing buffered and a read at least as large as the buffer: past it.
        if self.pos >= self.data.len() && out.remaining() >= self.capacity {
            let this = self.get_mut();
            this.data.clear();
            this.pos = 0;
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(out.remaining());
        out.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncWrite + Unpin> AsyncWrite for RecvBuffer<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

    /// Bytes written into one end come out of the buffered other end in order, through
    /// short reads, buffered look-ahead, consumes and a read larger than the buffer.
    #[tokio::test]
    async fn reads_come_out_in_order_whatever_their_sizes() {
        let (client, server) = tokio::io::duplex(64);
        let sent: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let writer = {
            let sent = sent.clone();
            tokio::spawn(async move {
                let mut client = client;
                for chunk in sent.chunks(37) {
                    client.write_all(chunk).await.unwrap();
                }
            })
        };
        let mut r = RecvBuffer::with_capacity(16, server);
        let mut got = Vec::new();
        let mut one = [0u8; 1];
        r.read_exact(&mut one).await.unwrap();
        got.extend_from_slice(&one);
        let buffered = r.fill_buf().await.unwrap().to_vec();
        assert!(!buffered.is_empty() && buffered.len() <= 16);
        assert_eq!(r.buffer(), &buffered[..]);
        got.extend_from_slice(&buffered[..1]);
        Pin::new(&mut r).consume(1);
        let mut big = vec![0u8; 100];
        r.read_exact(&mut big).await.unwrap();
        got.extend_from_slice(&big);
        r.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got, sent);
    }

    /// A buffer grown for a COPY takes larger reads, keeps bytes not yet consumed when
    /// it is set back, and gives its memory back once they are consumed.
    #[tokio::test]
    async fn a_grown_buffer_shrinks_back_once_drained() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        client.write_all(&[7u8; 5000]).await.unwrap();
        let mut r = RecvBuffer::with_capacity(16, server);
        r.set_capacity(4096);
        assert_eq!(r.fill_buf().await.unwrap().len(), 4096);
        Pin::new(&mut r).consume(100);
        r.set_capacity(16);
        assert_eq!(r.buffer().len(), 3996, "pending bytes are kept");
        assert!(r.data.capacity() >= 4096);
        Pin::new(&mut r).consume(3996);
        assert_eq!(r.fill_buf().await.unwrap().len(), 16);
        assert!(r.data.capacity() < 64, "{}", r.data.capacity());
    }

    /// Writes go straight through to the stream.
    #[tokio::test]
    async fn writes_pass_through() {
        let (client, server) = tokio::io::duplex(64);
        let mut r = RecvBuffer::with_capacity(16, server);
        r.write_all(b"hello").await.unwrap();
        r.flush().await.unwrap();
        let mut client = client;
        let mut got = [0u8; 5];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
    }
}
