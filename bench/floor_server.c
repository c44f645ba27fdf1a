/*
 * floor_server: the fastest a PostgreSQL-protocol server could answer pgbench's
 * select-only transactions on this machine — a physical limit for the benchmark, not
 * a database. It does no work: every query, simple or extended, is answered with the
 * same one-row, one-column result ("1"), so `pgbench -S` against it measures what the
 * client, the kernel's loopback TCP and the context switches cost by themselves. A
 * server's select-only tps over PostgreSQL's can never exceed this server's over
 * PostgreSQL's (bench/pgbench.sh section 0 reports it beside the fdatasync rate and
 * the loopback bandwidth).
 *
 * One thread per connection, blocking sockets, replies gathered and written once per
 * Sync or simple Query (as PostgreSQL and tusk do). No authentication (like `trust`),
 * no TLS (an SSLRequest is declined).
 *
 * Build and run: cc -O2 -pthread -o floor_server bench/floor_server.c && ./floor_server PORT
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct out {
    char buf[65536];
    size_t len;
};

static void put_bytes(struct out *o, const void *p, size_t n)
{
    if (o->len + n <= sizeof o->buf) {
        memcpy(o->buf + o->len, p, n);
        o->len += n;
    }
}

static void put_u32(struct out *o, uint32_t v)
{
    v = htonl(v);
    put_bytes(o, &v, 4);
}

static void put_u16(struct out *o, uint16_t v)
{
    v = htons(v);
    put_bytes(o, &v, 2);
}

/* A message with a body given whole. */
static void put_msg(struct out *o, char type, const void *body, uint32_t n)
{
    put_bytes(o, &type, 1);
    put_u32(o, n + 4);
    put_bytes(o, body, n);
}

static void put_param_status(struct out *o, const char *k, const char *v)
{
    size_t kl = strlen(k) + 1, vl = strlen(v) + 1;
    char body[256];
    memcpy(body, k, kl);
    memcpy(body + kl, v, vl);
    put_msg(o, 'S', body, (uint32_t)(kl + vl));
}

/* RowDescription: one int4 column named "x", text format. */
static void put_row_description(struct out *o)
{
    put_bytes(o, "T", 1);
    put_u32(o, 4 + 2 + 2 + 18);
    put_u16(o, 1);
    put_bytes(o, "x", 2);
    put_u32(o, 0);  /* table oid */
    put_u16(o, 0);  /* column number */
    put_u32(o, 23); /* int4 */
    put_u16(o, 4);
    put_u32(o, 0xffffffff); /* typmod -1 */
    put_u16(o, 0);          /* text */
}

static void put_data_row(struct out *o)
{
    put_bytes(o, "D", 1);
    put_u32(o, 4 + 2 + 4 + 1);
    put_u16(o, 1);
    put_u32(o, 1);
    put_bytes(o, "1", 1);
}

/*
 * pgbench's look-up of pgbench_accounts at start (its `GetTableInfo`): the table's
 * place in search_path (1), no partitioning (NULL), no partitions (0).
 */
static void put_partition_info(struct out *o)
{
    static const char *names[3] = {"n", "partstrat", "count"};
    static const uint32_t types[3] = {23, 18, 20};
    put_bytes(o, "T", 1);
    put_u32(o, 4 + 2 + 3 * 18 + 2 + 10 + 6);
    put_u16(o, 3);
    for (int i = 0; i < 3; i++) {
        put_bytes(o, names[i], strlen(names[i]) + 1);
        put_u32(o, 0);
        put_u16(o, 0);
        put_u32(o, types[i]);
        put_u16(o, 4);
        put_u32(o, 0xffffffff);
        put_u16(o, 0);
    }
    put_bytes(o, "D", 1);
    put_u32(o, 4 + 2 + 5 + 4 + 5);
    put_u16(o, 3);
    put_u32(o, 1);
    put_bytes(o, "1", 1);
    put_u32(o, 0xffffffff);
    put_u32(o, 1);
    put_bytes(o, "0", 1);
}

static void put_ready(struct out *o)
{
    put_msg(o, 'Z', "I", 1);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, 0);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush_out(int fd, struct out *o)
{
    int r = write_all(fd, o->buf, o->len);
    o->len = 0;
    return r;
}

static int read_exact(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static uint32_t get_u32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static __thread struct out o;
    static __thread char in[65536];
    char head[8];
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    /* Start-up: decline SSL, accept any startup packet without a password. */
    for (;;) {
        if (read_exact(fd, head, 8) < 0)
            goto done;
        uint32_t len = get_u32(head), code = get_u32(head + 4);
        if (len < 8 || len > sizeof in)
            goto done;
        if (read_exact(fd, in, len - 8) < 0)
            goto done;
        if (code == 80877103 || code == 80877104) { /* SSLRequest, GSSENCRequest */
            if (write_all(fd, "N", 1) < 0)
                goto done;
            continue;
        }
        break;
    }
    o.len = 0;
    put_bytes(&o, "R", 1);
    put_u32(&o, 8);
    put_u32(&o, 0);
    put_param_status(&o, "server_version", "15.0");
    put_param_status(&o, "server_encoding", "UTF8");
    put_param_status(&o, "client_encoding", "UTF8");
    put_param_status(&o, "DateStyle", "ISO, MDY");
    put_param_status(&o, "integer_datetimes", "on");
    put_param_status(&o, "standard_conforming_strings", "on");
    put_bytes(&o, "K", 1);
    put_u32(&o, 12);
    put_u32(&o, (uint32_t)fd);
    put_u32(&o, 0);
    put_ready(&o);
    if (flush_out(fd, &o) < 0)
        goto done;

    /* Messages: buffered reads, replies gathered until a Sync or a Query. */
    size_t have = 0;
    for (;;) {
        ssize_t r = recv(fd, in + have, sizeof in - have, 0);
        if (r <= 0)
            goto done;
        have += (size_t)r;
        size_t at = 0;
        while (have - at >= 5) {
            char type = in[at];
            uint32_t len = get_u32(in + at + 1);
            if (len < 4 || len + 1 > sizeof in)
                goto done;
            if (have - at < len + 1)
                break;
            switch (type) {
            case 'Q':
                if (memmem(in + at + 5, len - 4, "partstrat", 9))
                    put_partition_info(&o);
                else {
                    put_row_description(&o);
                    put_data_row(&o);
                }
                put_msg(&o, 'C', "SELECT 1", 9);
                put_ready(&o);
                if (flush_out(fd, &o) < 0)
                    goto done;
                break;
            case 'P':
                put_msg(&o, '1', "", 0);
                break;
            case 'B':
                put_msg(&o, '2', "", 0);
                break;
            case 'D':
                if (in[at + 5] == 'S') {
                    put_bytes(&o, "t", 1);
                    put_u32(&o, 4 + 2 + 4);
                    put_u16(&o, 1);
                    put_u32(&o, 23);
                }
                put_row_description(&o);
                break;
            case 'E':
                put_data_row(&o);
                put_msg(&o, 'C', "SELECT 1", 9);
                break;
            case 'C':
                put_msg(&o, '3', "", 0);
                break;
            case 'S':
                put_ready(&o);
                if (flush_out(fd, &o) < 0)
                    goto done;
                break;
            case 'H':
                if (flush_out(fd, &o) < 0)
                    goto done;
                break;
            case 'X':
                goto done;
            default:
                break;
            }
            at += len + 1;
        }
        memmove(in, in + at, have - at);
        have -= at;
    }
done:
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1024) < 0) {
        perror("floor_server: listen");
        return 1;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)fd) != 0)
            close(fd);
        pthread_attr_destroy(&at);
    }
}
