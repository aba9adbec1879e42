/* How the node reaches its master: the network interface that carries the
 * link's local address, and that interface's Wi-Fi signal when it is a
 * wireless one. Reported in every heartbeat so `bramble nodes` can say
 * "wlan0 -61 dBm" or "eth0". Does not log; returns negative errno. */
#ifndef BRM_NETIF_H
#define BRM_NETIF_H

#include <stddef.h>
#include <sys/socket.h>

/* The name of the interface holding the address ADDR (IPv4 or IPv6), from
 * getifaddrs(3): 0, -ENOENT when no interface has it, or -errno. */
int brm_netif_for_addr(const struct sockaddr *addr, char *ret, size_t size);

/* Pure parser of /proc/net/wireless: the signal level of IFACE in dBm.
 * 0; -ENOENT when the text has no line for IFACE; -EINVAL when its level
 * is not a dBm figure (drivers that report a 0..100 scale, or no signal
 * yet). ret is left alone on failure. */
int brm_netif_parse_wireless(const char *text, const char *iface, int *ret_dbm);

/* Reads root/proc/net/wireless and parses it for IFACE. */
int brm_netif_signal(const char *root, const char *iface, int *ret_dbm);

#endif
