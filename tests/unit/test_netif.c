/* How the node reaches its master: the interface holding the link's local
 * address (getifaddrs on this machine: 127.0.0.1 is on lo), and the signal
 * level of /proc/net/wireless as recorded from cfg80211 drivers (brcmfmac
 * on a Pi, mac80211_hwsim), including the texts it must refuse. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "check.h"
#include "netif.h"

#define HEAD                                                                               \
        "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n" \
        " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"

static void test_parse(void)
{
        int dbm = 7;

        CHECK_INT(brm_netif_parse_wireless(HEAD " wlan0: 0000   49.  -61.  -256        0      0      0      0      0        0\n",
                                           "wlan0", &dbm), ==, 0);
        CHECK_INT(dbm, ==, -61);
        /* The second of two interfaces, without the update dots. */
        CHECK_INT(brm_netif_parse_wireless(HEAD " wlan0: 0000   49  -61  -256 0 0 0 0 0 0\n"
                                                " wlan1: 0000   70  -40  -256 0 0 0 0 0 0\n",
                                           "wlan1", &dbm), ==, 0);
        CHECK_INT(dbm, ==, -40);
        /* A name that only starts like the one asked for does not match. */
        dbm = 7;
        CHECK_INT(brm_netif_parse_wireless(HEAD " wlan01: 0000 49. -61. -256 0 0 0 0 0 0\n", "wlan0", &dbm), ==, -ENOENT);
        CHECK_INT(brm_netif_parse_wireless(HEAD, "wlan0", &dbm), ==, -ENOENT);
        CHECK_INT(brm_netif_parse_wireless("", "eth0", &dbm), ==, -ENOENT);
        /* Not associated (level 0), a driver's own positive scale, junk. */
        CHECK_INT(brm_netif_parse_wireless(HEAD " wlan0: 0000    0     0     0 0 0 0 0 0 0\n", "wlan0", &dbm), ==, -EINVAL);
        CHECK_INT(brm_netif_parse_wireless(HEAD " wlan0: 0000   49.   80.   0 0 0 0 0 0 0\n", "wlan0", &dbm), ==, -EINVAL);
        CHECK_INT(brm_netif_parse_wireless(HEAD " wlan0: 0000   49.  -6x1.  0\n", "wlan0", &dbm), ==, -EINVAL);
        CHECK_INT(brm_netif_parse_wireless(HEAD " wlan0: zz 49. -61.\n", "wlan0", &dbm), ==, -EINVAL);
        CHECK_INT(brm_netif_parse_wireless(HEAD " wlan0: 0000 49. -99999999999.\n", "wlan0", &dbm), ==, -EINVAL);
        CHECK_INT(brm_netif_parse_wireless(HEAD " wlan0: 0000 49.\n", "wlan0", &dbm), ==, -EINVAL);
        CHECK_INT(dbm, ==, 7);
        CHECK_INT(brm_netif_parse_wireless(HEAD, "", &dbm), ==, -EINVAL);
}

static void test_for_addr(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET };
        char name[16] = "x";

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (brm_netif_for_addr((struct sockaddr *)&a, name, sizeof(name)) == -ENOENT)
                CHECK_SKIP("no interface holds 127.0.0.1 here");
        CHECK_INT(brm_netif_for_addr((struct sockaddr *)&a, name, sizeof(name)), ==, 0);
        CHECK_STR(name, "lo");
        CHECK_INT(brm_netif_for_addr((struct sockaddr *)&a, name, 2), ==, -ENAMETOOLONG);
        /* 192.0.2.1 (TEST-NET-1) is on no interface of a test machine. */
        inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
        CHECK_INT(brm_netif_for_addr((struct sockaddr *)&a, name, sizeof(name)), ==, -ENOENT);
}

int main(void)
{
        test_parse();
        test_for_addr();
        return 0;
}
