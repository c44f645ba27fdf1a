// The PostgreSQL JDBC driver against tusk: typed parameters in Parse (varchar for
// strings, binary int4/int8/float8/numeric/bytea), text results, every common type read
// back, server-side prepared statements after the prepare threshold (binary result
// columns), batches, transactions with autocommit off (BEGIN piggy-backed, named
// COMMIT/ROLLBACK), SQLSTATEs, and — with the argument "metadata" — the catalog queries
// of DatabaseMetaData (getTables, getColumns, getPrimaryKeys) and ResultSetMetaData.
// Connection settings come from PGHOST/PGPORT/PGUSER/PGDATABASE.
import java.math.BigDecimal;
import java.sql.*;
import java.time.*;
import java.util.*;

public class Check {
    static void check(String label, Object got, Object want) {
        if (!Objects.equals(got, want)) {
            System.err.println("jdbc: " + label + ": got " + got + ", want " + want);
            System.exit(1);
        }
    }

    static Connection connect() throws SQLException {
        String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT")
            + "/" + System.getenv("PGDATABASE") + "?ApplicationName=tusk-jdbc&sslmode=disable";
        return DriverManager.getConnection(url, System.getenv("PGUSER"), "");
    }

    static final String CREATE = "CREATE TABLE drv_jdbc (id serial PRIMARY KEY, i2 int2, i4 int4,"
        + " i8 int8, n numeric(12,3), f4 float4, f8 float8, t text UNIQUE, vc varchar(20), b bool,"
        + " by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval, u uuid, j json,"
        + " jb jsonb, ai int4[], at text[])";

    static void basic(Connection c) throws Exception {
        try (Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS drv_jdbc");
            st.execute(CREATE);
        }
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO drv_jdbc (i2, i4, i8, n, f4, f8, t, vc, b, by, d, tm, ts, tz, iv, u, j, jb, ai, at)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::interval, ?::uuid, ?::json, ?::jsonb, ?, ?)")) {
            ps.setShort(1, (short) 41);
            ps.setInt(2, 70000);
            ps.setLong(3, 9007199254740993L);
            ps.setBigDecimal(4, new BigDecimal("12345.678"));
            ps.setFloat(5, 1.5f);
            ps.setDouble(6, 2.25);
            ps.setString(7, "héllo wörld ✓");
            ps.setString(8, "varchar");
            ps.setBoolean(9, true);
            ps.setBytes(10, new byte[] {0, 1, (byte) 255});
            ps.setObject(11, LocalDate.of(2024, 2, 29));
            ps.setObject(12, LocalTime.of(12, 34, 56, 789_000_000));
            ps.setObject(13, LocalDateTime.of(2024, 2, 29, 12, 34, 56, 789_000_000));
            ps.setObject(14, OffsetDateTime.of(2024, 2, 29, 12, 34, 56, 789_000_000, ZoneOffset.UTC));
            ps.setString(15, "3 days 04:05:06");
            ps.setString(16, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
            ps.setString(17, "{\"a\": [1, 2, null]}");
            ps.setString(18, "{\"b\": {\"c\": true}}");
            ps.setArray(19, c.createArrayOf("int4", new Integer[] {1, 2, 3}));
            ps.setArray(20, c.createArrayOf("text", new String[] {"x", "y z", null}));
            check("insert count", ps.executeUpdate(), 1);
        }
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT i2, i4, i8, n, f4, f8, t, vc, b, by, d, tm, ts, tz, iv, u, j, jb, ai, at"
                + " FROM drv_jdbc WHERE i4 = ?")) {
            // Executed seven times: from the fifth on the driver uses a named statement and
            // asks for binary results of the types it decodes itself.
            for (int k = 0; k < 7; k++) {
                ps.setInt(1, 70000);
                try (ResultSet rs = ps.executeQuery()) {
                    check("row " + k, rs.next(), true);
                    check("i2", rs.getShort(1), (short) 41);
                    check("i4", rs.getInt(2), 70000);
                    check("i8", rs.getLong(3), 9007199254740993L);
                    check("n", rs.getBigDecimal(4), new BigDecimal("12345.678"));
                    check("f4", rs.getFloat(5), 1.5f);
                    check("f8", rs.getDouble(6), 2.25);
                    check("t", rs.getString(7), "héllo wörld ✓");
                    check("vc", rs.getString(8), "varchar");
                    check("b", rs.getBoolean(9), true);
                    check("by", Arrays.toString(rs.getBytes(10)), "[0, 1, -1]");
                    check("d", rs.getObject(11, LocalDate.class), LocalDate.of(2024, 2, 29));
                    check("tm", rs.getObject(12, LocalTime.class), LocalTime.of(12, 34, 56, 789_000_000));
                    check("ts", rs.getObject(13, LocalDateTime.class), LocalDateTime.of(2024, 2, 29, 12, 34, 56, 789_000_000));
                    check("tz", rs.getObject(14, OffsetDateTime.class).toInstant(), Instant.parse("2024-02-29T12:34:56.789Z"));
                    check("iv", rs.getString(15), "3 days 04:05:06");
                    check("u", rs.getObject(16), UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
                    check("j", rs.getString(17), "{\"a\": [1, 2, null]}");
                    check("jb", rs.getString(18), "{\"b\": {\"c\": true}}");
                    check("ai", Arrays.toString((Integer[]) rs.getArray(19).getArray()), "[1, 2, 3]");
                    check("at", Arrays.toString((String[]) rs.getArray(20).getArray()), "[x, y z, null]");
                    check("one row", rs.next(), false);
                }
            }
        }
        // A batch: server-prepared at once, one Sync for all rows.
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO drv_jdbc (t, i4) VALUES (?, ?)")) {
            for (int k = 0; k < 3; k++) {
                ps.setString(1, "batch-" + k);
                ps.setInt(2, k);
                ps.addBatch();
            }
            check("batch", Arrays.toString(ps.executeBatch()), "[1, 1, 1]");
        }
        // Transactions with autocommit off.
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO drv_jdbc (t) VALUES (?)")) {
            ps.setString(1, "rolled back");
            ps.executeUpdate();
            c.rollback();
            ps.setString(1, "committed");
            ps.executeUpdate();
            c.commit();
        }
        // An error inside a transaction, then rollback.
        try (Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO drv_jdbc (t) VALUES ('committed')");
            check("duplicate accepted", true, false);
        } catch (SQLException e) {
            check("sqlstate", e.getSQLState(), "23505");
        }
        c.rollback();
        c.setAutoCommit(true);
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT t FROM drv_jdbc WHERE t IN ('rolled back', 'committed')")) {
            List<String> got = new ArrayList<>();
            while (rs.next()) got.add(rs.getString(1));
            check("after commit/rollback", got.toString(), "[committed]");
        }
        try (Statement st = c.createStatement()) {
            st.executeQuery("SELEC 1");
            check("syntax error accepted", true, false);
        } catch (SQLException e) {
            check("sqlstate", e.getSQLState(), "42601");
        }
        // RETURN_GENERATED_KEYS appends RETURNING *.
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO drv_jdbc (t) VALUES (?)", Statement.RETURN_GENERATED_KEYS)) {
            ps.setString(1, "generated");
            ps.executeUpdate();
            try (ResultSet rs = ps.getGeneratedKeys()) {
                check("generated key", rs.next(), true);
                check("generated t", rs.getString("t"), "generated");
            }
        }
        try (Statement st = c.createStatement()) {
            st.execute("DROP TABLE drv_jdbc");
        }
    }

    static void metadata(Connection c) throws Exception {
        try (Statement st = c.createStatement()) {
            st.execute("DROP TABLE IF EXISTS drv_jdbc_meta");
            st.execute("CREATE TABLE drv_jdbc_meta (id serial PRIMARY KEY, name varchar(20) NOT NULL, qty int)");
        }
        DatabaseMetaData md = c.getMetaData();
        check("product", md.getDatabaseProductName(), "PostgreSQL");
        try (ResultSet rs = md.getTables(null, "public", "drv_jdbc_meta", new String[] {"TABLE"})) {
            check("getTables", rs.next(), true);
            check("TABLE_NAME", rs.getString("TABLE_NAME"), "drv_jdbc_meta");
            check("TABLE_TYPE", rs.getString("TABLE_TYPE"), "TABLE");
        }
        try (ResultSet rs = md.getColumns(null, "public", "drv_jdbc_meta", "%")) {
            List<String> cols = new ArrayList<>();
            while (rs.next()) {
                cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":"
                    + rs.getInt("COLUMN_SIZE") + ":" + rs.getString("IS_NULLABLE") + ":"
                    + rs.getString("IS_AUTOINCREMENT"));
            }
            check("getColumns", cols.toString(),
                "[id:serial:10:NO:YES, name:varchar:20:NO:NO, qty:int4:10:YES:NO]");
        }
        try (ResultSet rs = md.getPrimaryKeys(null, "public", "drv_jdbc_meta")) {
            check("getPrimaryKeys", rs.next(), true);
            check("COLUMN_NAME", rs.getString("COLUMN_NAME"), "id");
            check("PK_NAME", rs.getString("PK_NAME"), "drv_jdbc_meta_pkey");
        }
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT id, name, qty FROM drv_jdbc_meta")) {
            ResultSetMetaData rmd = rs.getMetaData();
            check("getTableName", rmd.getTableName(2), "drv_jdbc_meta");
            check("isNullable", rmd.isNullable(2), ResultSetMetaData.columnNoNulls);
            check("isAutoIncrement", rmd.isAutoIncrement(1), true);
        }
        try (Statement st = c.createStatement()) {
            st.execute("DROP TABLE drv_jdbc_meta");
        }
    }

    public static void main(String[] args) throws Exception {
        String phase = args[0];
        try (Connection c = connect()) {
            if (phase.equals("basic")) basic(c); else metadata(c);
        }
        System.out.println("jdbc " + phase + ": ok");
    }
}
