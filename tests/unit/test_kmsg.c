/* /dev/kmsg record parser: real records from several kernel versions,
 * missing fields, numbers out of range, records without ';'. */
#include <errno.h>

#include "check.h"
#include "kmsg.h"

static int parse(const char *s, struct brm_kmsg *r)
{
        return brm_kmsg_parse(s, strlen(s), r);
}

static void check_msg(const struct brm_kmsg *r, const char *want)
{
        if (r->msg_len != strlen(want) || memcmp(r->msg, want, r->msg_len) != 0) {
                fprintf(stderr, "message '%.*s', expected '%s'\n", (int)r->msg_len, r->msg, want);
                exit(1);
        }
}

/* A stand-in for /dev/kmsg that behaves like the kernel's: one record per
 * read, a ring that overwrites its oldest records (-EPIPE for a reader that
 * was overtaken), -EAGAIN at the end, and a "kernel" that keeps writing
 * while the log is being read (grow records appended before each read). */
#define FAKE_RING 256
struct fake_kmsg {
        uint64_t next_seq;      /* the next record the kernel writes */
        uint64_t pos;           /* the reader's next record */
        unsigned grow;          /* records the kernel writes before each read */
        unsigned grow_reads;    /* ... for this many reads */
        unsigned overruns;      /* reads that found their record overwritten */
};

static uint64_t fake_oldest(const struct fake_kmsg *f)
{
        return f->next_seq > FAKE_RING ? f->next_seq - FAKE_RING : 0;
}

static ssize_t fake_read(void *arg, char *buf, size_t len)
{
        struct fake_kmsg *f = arg;

        if (f->grow_reads) {
                f->grow_reads--;
                f->next_seq += f->grow;
        }
        if (f->pos < fake_oldest(f)) {
                f->pos = fake_oldest(f);
                f->overruns++;
                return -EPIPE;
        }
        if (f->pos >= f->next_seq)
                return -EAGAIN;
        /* Odd records are debug (level 7), even ones info (6). */
        int n = snprintf(buf, len, "%u,%llu,%llu,-;record %llu\n", f->pos % 2 ? 7u : 6u, (unsigned long long)f->pos,
                         (unsigned long long)f->pos * 1000, (unsigned long long)f->pos);
        f->pos++;
        return n;
}

static bool want_all(void *arg, const struct brm_kmsg *k)
{
        (void)arg;
        (void)k;
        return true;
}

static bool want_info(void *arg, const struct brm_kmsg *k)
{
        (void)arg;
        return k->level <= 6;
}

/* Reads the stand-in from its oldest record as the agent does after the
 * count, and returns how many records it showed; the first and last shown
 * go to *first and *last. */
static unsigned read_window(struct fake_kmsg *f, const struct brm_kmsg_window *w, bool follow,
                            brm_kmsg_want_fn want, uint64_t *first, uint64_t *last)
{
        char buf[256];
        unsigned shown = 0;

        f->pos = fake_oldest(f);
        for (;;) {
                ssize_t got = fake_read(f, buf, sizeof(buf));
                struct brm_kmsg k;
                if (got == -EPIPE)
                        continue;
                if (got < 0)
                        break;
                CHECK_INT(brm_kmsg_parse(buf, (size_t)got, &k), ==, 0);
                enum brm_kmsg_verdict v = brm_kmsg_window_check(w, k.seq, follow);
                if (v == BRM_KMSG_END)
                        break;
                if (v == BRM_KMSG_SKIP || !want(NULL, &k))
                        continue;
                if (!shown++)
                        *first = k.seq;
                *last = k.seq;
        }
        return shown;
}

static void test_tail_window(void)
{
        char buf[256];
        struct brm_kmsg_window w;
        uint64_t first = 0, last = 0;

        /* A quiet log: the last 5 of 40. */
        struct fake_kmsg q = { .next_seq = 40 };
        CHECK_INT(brm_kmsg_tail(fake_read, &q, want_all, NULL, buf, sizeof(buf), 5, &w), ==, 0);
        CHECK_U64(w.first_seq, ==, 35);
        CHECK_U64(w.end_seq, ==, 39);
        CHECK_INT(read_window(&q, &w, false, want_all, &first, &last), ==, 5);
        CHECK_U64(first, ==, 35);
        CHECK_U64(last, ==, 39);

        /* A busy kernel: 3 new records before each of the first 20 reads of
         * the count, and 2 before each of the first 30 reads of the second
         * pass. Exactly 5 records, the last 5 there when the count ended. */
        struct fake_kmsg b = { .next_seq = 30, .grow = 3, .grow_reads = 20 };
        CHECK_INT(brm_kmsg_tail(fake_read, &b, want_all, NULL, buf, sizeof(buf), 5, &w), ==, 0);
        CHECK_U64(w.end_seq, ==, 89);
        CHECK_U64(w.first_seq, ==, 85);
        b.grow = 2;
        b.grow_reads = 30;
        CHECK_INT(read_window(&b, &w, false, want_all, &first, &last), ==, 5);
        CHECK_U64(first, ==, 85);
        CHECK_U64(last, ==, 89);
        /* Following, the new records come after the tail. */
        CHECK_INT(read_window(&b, &w, true, want_all, &first, &last), ==, (int)(b.next_seq - 85));
        CHECK_U64(last, ==, b.next_seq - 1);

        /* So busy that the ring overwrites records under the reader (-EPIPE
         * during the count): still exactly the last 5. */
        struct fake_kmsg o = { .next_seq = 60, .grow = 40, .grow_reads = 12 };
        CHECK_INT(brm_kmsg_tail(fake_read, &o, want_all, NULL, buf, sizeof(buf), 5, &w), ==, 0);
        CHECK_INT(o.overruns, >, 0);
        CHECK_U64(w.end_seq, ==, 539);
        CHECK_U64(w.first_seq, ==, 535);
        CHECK_INT(read_window(&o, &w, false, want_all, &first, &last), ==, 5);
        CHECK_U64(first, ==, 535);

        /* Only wanted records count: the last 3 info records of 40. */
        struct fake_kmsg f = { .next_seq = 40 };
        CHECK_INT(brm_kmsg_tail(fake_read, &f, want_info, NULL, buf, sizeof(buf), 3, &w), ==, 0);
        CHECK_U64(w.first_seq, ==, 34);
        CHECK_INT(read_window(&f, &w, false, want_info, &first, &last), ==, 3);
        CHECK_U64(first, ==, 34);
        CHECK_U64(last, ==, 38);

        /* More asked for than there is: all of it; and a window that grows
         * its array past the first allocation (150 > 64). */
        struct fake_kmsg s = { .next_seq = 30 };
        CHECK_INT(brm_kmsg_tail(fake_read, &s, want_all, NULL, buf, sizeof(buf), 200, &w), ==, 0);
        CHECK_U64(w.first_seq, ==, 0);
        CHECK_INT(read_window(&s, &w, false, want_all, &first, &last), ==, 30);
        struct fake_kmsg big = { .next_seq = 200 };
        CHECK_INT(brm_kmsg_tail(fake_read, &big, want_all, NULL, buf, sizeof(buf), 150, &w), ==, 0);
        CHECK_U64(w.first_seq, ==, 50);
        CHECK_INT(read_window(&big, &w, false, want_all, &first, &last), ==, 150);

        /* An empty log: nothing without -f. */
        struct fake_kmsg e = { 0 };
        CHECK_INT(brm_kmsg_tail(fake_read, &e, want_all, NULL, buf, sizeof(buf), 5, &w), ==, 0);
        CHECK(!w.any);
        CHECK_INT(brm_kmsg_window_check(&w, 0, false), ==, BRM_KMSG_END);
        CHECK_INT(brm_kmsg_window_check(&w, 0, true), ==, BRM_KMSG_SHOW);
}

int main(void)
{
        struct brm_kmsg r;

        /* A plain record (kernel 3.5+). */
        CHECK_INT(parse("6,339,5140900,-;NET: Registered protocol family 10\n", &r), ==, 0);
        CHECK_INT(r.level, ==, 6);
        CHECK_INT(r.facility, ==, 0);
        CHECK_U64(r.seq, ==, 339);
        CHECK_U64(r.ts_us, ==, 5140900);
        CHECK(!r.continuation);
        check_msg(&r, "NET: Registered protocol family 10");

        /* With dictionary continuation lines (device records). */
        static const char dev[] = "7,160,424069,-;pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\n"
                                  " SUBSYSTEM=acpi\n"
                                  " DEVICE=+acpi:PNP0A03:00\n";
        CHECK_INT(brm_kmsg_parse(dev, sizeof(dev) - 1, &r), ==, 0);
        CHECK_INT(r.level, ==, 7);
        CHECK_U64(r.seq, ==, 160);
        check_msg(&r, "pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)");

        /* Kernel 5.10+ adds the caller after the flags. */
        CHECK_INT(parse("4,1234,987654321,-,caller=T1;brcmfmac: brcmf_c_preinit_dcmds: Firmware: BCM43455/6\n", &r), ==, 0);
        CHECK_INT(r.level, ==, 4);
        CHECK_U64(r.ts_us, ==, 987654321);
        check_msg(&r, "brcmfmac: brcmf_c_preinit_dcmds: Firmware: BCM43455/6");
        CHECK_INT(parse("3,5,6,-,caller=C2,future=x;m", &r), ==, 0);
        check_msg(&r, "m");

        /* Facility and level: a userspace record (<14> = user.info) and a daemon one. */
        CHECK_INT(parse("14,2000,1,-;systemd-journald[123]: started\n", &r), ==, 0);
        CHECK_INT(r.facility, ==, 1);
        CHECK_INT(r.level, ==, 6);
        CHECK_INT(parse("30,1,1,-;x\n", &r), ==, 0);
        CHECK_INT(r.facility, ==, 3);
        CHECK_INT(r.level, ==, 6);
        CHECK_INT(parse("2047,1,1,-;x", &r), ==, 0);
        CHECK_INT(r.facility, ==, 255);
        CHECK_INT(r.level, ==, 7);

        /* Continuation flag. */
        CHECK_INT(parse("4,77,88,c;more text\n", &r), ==, 0);
        CHECK(r.continuation);
        CHECK_INT(parse("4,78,88,+;more\n", &r), ==, 0);
        CHECK(!r.continuation);

        /* The message is bytes: the kernel's \xNN escapes stay as they are,
         * ';' and ',' inside the message belong to it, an empty one is fine,
         * and without a trailing newline it runs to the end. */
        CHECK_INT(parse("6,1,2,-;usb 1-1: Product: \\x01caf\\xc3\\xa9; a,b\n", &r), ==, 0);
        check_msg(&r, "usb 1-1: Product: \\x01caf\\xc3\\xa9; a,b");
        CHECK_INT(parse("6,1,2,-;\n", &r), ==, 0);
        CHECK_U64(r.msg_len, ==, 0);
        CHECK_INT(parse("6,1,2,-;", &r), ==, 0);
        CHECK_U64(r.msg_len, ==, 0);
        CHECK_INT(parse("6,1,2,-;no newline", &r), ==, 0);
        check_msg(&r, "no newline");
        /* Only len bytes are looked at. */
        CHECK_INT(brm_kmsg_parse("6,1,2,-;abcdef", 11, &r), ==, 0);
        check_msg(&r, "abc");
        CHECK_INT(brm_kmsg_parse("6,1,2,-;abc", 7, &r), ==, -EBADMSG);
        /* A NUL in the message is just a byte. */
        CHECK_INT(brm_kmsg_parse("6,1,2,-;a\0b\n", 12, &r), ==, 0);
        CHECK_U64(r.msg_len, ==, 3);

        /* Largest numbers. */
        CHECK_INT(parse("4294967295,18446744073709551615,18446744073709551615,-;big", &r), ==, 0);
        CHECK_INT(r.level, ==, 7);
        CHECK_INT(r.facility, ==, 536870911);
        CHECK_U64(r.seq, ==, UINT64_MAX);
        CHECK_U64(r.ts_us, ==, UINT64_MAX);

        /* Refused; r stays as it was. */
        r.seq = 4242;
        static const char *bad[] = {
                "",
                ";",
                "no semicolon at all\n",
                "6,1,2,-",
                "6,1,2,-\n;later",                  /* the header ends at the line's end */
                "6,1,2;missing flags",
                "6,1,2,;empty flags",
                "6,1;two fields",
                "6;one field",
                ",1,2,-;empty priority",
                "6,,2,-;empty seq",
                "6,1,,-;empty timestamp",
                "x,1,2,-;letters",
                "6,1x,2,-;trailing letters",
                "-6,1,2,-;negative",
                "+6,1,2,-;plus",
                " 6,1,2,-;space",
                "6, 1,2,-;space",
                "4294967296,1,2,-;priority over 32 bits",
                "6,18446744073709551616,2,-;seq over 64 bits",
                "6,1,18446744073709551616,-;ts over 64 bits",
                "6,1,99999999999999999999999999999999,-;huge",
                "6.5,1,2,-;decimal",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (parse(bad[i], &r) != -EBADMSG) {
                        fprintf(stderr, "brm_kmsg_parse accepted '%s'\n", bad[i]);
                        return 1;
                }
        CHECK_U64(r.seq, ==, 4242);
        CHECK_INT(brm_kmsg_parse(NULL, 0, &r), ==, -EBADMSG);
        CHECK_INT(brm_kmsg_parse("6,1,2,-;x", 0, &r), ==, -EBADMSG);
        test_tail_window();
        printf("kmsg: ok\n");
        return 0;
}
