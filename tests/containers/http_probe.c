/* brm_http_probe: a tiny HTTP server for the health-check tests, run
 * inside a container (network host).
 *
 *   brm_http_probe PORT [STATUS_FILE]
 *
 * Listens on 127.0.0.1:PORT and answers every request, once its headers
 * have arrived, with the status in STATUS_FILE (a number; 200 when the
 * file is missing or empty) and a short body, then closes. So a test
 * switches a running server from healthy to failing by writing the file.
 * One connection at a time; statically linked, so it runs in any root
 * file system. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int status_of(const char *file)
{
        char text[16] = "";
        FILE *f = file ? fopen(file, "r") : NULL;
        int s = 0;

        if (f) {
                if (fgets(text, sizeof(text), f))
                        s = atoi(text);
                fclose(f);
        }
        return s >= 100 && s <= 599 ? s : 200;
}

int main(int argc, char **argv)
{
        struct sockaddr_in a = { .sin_family = AF_INET };
        int one = 1, l;

        if (argc < 2) {
                fprintf(stderr, "usage: brm_http_probe PORT [STATUS_FILE]\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        a.sin_port = htons((unsigned short)atoi(argv[1]));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if ((l = socket(AF_INET, SOCK_STREAM, 0)) < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0) {
                perror("brm_http_probe: listen");
                return 1;
        }
        printf("listening on 127.0.0.1:%s\n", argv[1]);
        fflush(stdout);
        for (;;) {
                char req[4096], resp[256];
                size_t got = 0;
                ssize_t n;
                int c = accept(l, NULL, NULL), s, len;

                if (c < 0)
                        continue;
                /* The request's headers end with an empty line. */
                while (got < sizeof(req) - 1 && (n = read(c, req + got, sizeof(req) - 1 - got)) > 0) {
                        got += (size_t)n;
                        req[got] = '\0';
                        if (strstr(req, "\r\n\r\n"))
                                break;
                }
                s = status_of(argc > 2 ? argv[2] : NULL);
                len = snprintf(resp, sizeof(resp),
                               "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\n%d",
                               s, s < 400 ? "OK" : "Failing", s);
                if (write(c, resp, (size_t)len) < 0)
                        perror("brm_http_probe: write");
                close(c);
        }
}
