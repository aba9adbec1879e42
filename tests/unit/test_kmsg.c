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
        printf("kmsg: ok\n");
        return 0;
}
