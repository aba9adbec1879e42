/* An OS update bundle as the node reads it (agent/osbundle.c) and the CA's
 * signature over it (lib/ossig.c): what is accepted, and each thing that
 * is refused with the line naming it. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "osbundle.h"
#include "ossig.h"
#include "pki.h"

#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define PART(title, dig, size) \
        "{\"mediaType\":\"application/vnd.bramble.os.part.v1\",\"digest\":\"" dig "\",\"size\":" size \
        ",\"annotations\":{\"org.opencontainers.image.title\":\"" title "\"}}"
#define MANIFEST(layers) \
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," \
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D("c") "\",\"size\":200}," \
        "\"layers\":[" layers "]}"
#define GOOD_PARTS \
        PART("root.squashfs", D("1"), "12000000") "," PART("boot/vmlinuz", D("2"), "37000000") "," \
        PART("boot/initrd.img", D("3"), "1700000") "," PART("boot-a/cmdline.txt", D("4"), "170") "," \
        PART("boot-b/cmdline.txt", D("5"), "170")

static struct brm_osbundle b;

static int manifest(const char *json, char *why, size_t n)
{
        return brm_osbundle_manifest(json, strlen(json), &b, why, n);
}

static void expect_refused(const char *json, const char *what)
{
        char why[300] = "";

        CHECK_INT(manifest(json, why, sizeof(why)), ==, -EINVAL);
        if (!strstr(why, what))
                CHECK_FAIL_("'%s' does not name '%s'", why, what);
}

static void test_manifest(void)
{
        char why[300] = "";

        CHECK_INT(manifest(MANIFEST(GOOD_PARTS), why, sizeof(why)), ==, 0);
        CHECK_INT(b.n, ==, 5);
        CHECK(strcmp(b.config_hex, D("c") + 7) == 0);
        CHECK_U64(b.total, ==, 12000000ull + 37000000 + 1700000 + 340);
        CHECK_INT(brm_osbundle_check(&b, 'b', why, sizeof(why)), ==, 0);
        CHECK(brm_osbundle_boot_file(&b, 'b', "cmdline.txt") == &b.parts[4]);
        CHECK(brm_osbundle_boot_file(&b, 'a', "cmdline.txt") == &b.parts[3]);
        CHECK(brm_osbundle_boot_file(&b, 'a', "vmlinuz") == &b.parts[1]);
        CHECK(brm_osbundle_boot_file(&b, 'a', "bootargs.txt") == NULL);

        expect_refused("{", "malformed JSON");
        expect_refused("[]", "not a JSON object");
        expect_refused(MANIFEST(""), "no parts");
        expect_refused(MANIFEST(PART("../etc/passwd", D("1"), "1")), "no valid part name");
        expect_refused(MANIFEST(PART("boot/../x", D("1"), "1")), "no valid part name");
        expect_refused(MANIFEST(PART("boot/.hidden", D("1"), "1")), "no valid part name");
        expect_refused(MANIFEST(PART("boot-c/cmdline.txt", D("1"), "1")), "no valid part name");
        expect_refused(MANIFEST(PART("root.squashfs", "sha256:abc", "1")), "no sha256 digest");
        expect_refused(MANIFEST(PART("root.squashfs", D("A"), "1")), "no sha256 digest");
        expect_refused(MANIFEST(PART("root.squashfs", D("1"), "0")), "no size");
        expect_refused(MANIFEST(PART("root.squashfs", D("1"), "1073741825")), "no size");
        expect_refused(MANIFEST(PART("root.squashfs", D("1"), "1") "," PART("root.squashfs", D("2"), "1")), "listed twice");
        expect_refused(MANIFEST("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D("1")
                                "\",\"size\":1}"),
                       "is not a part");

        /* A bundle without what a slot needs. */
        CHECK_INT(manifest(MANIFEST(PART("boot/vmlinuz", D("2"), "1") "," PART("boot/initrd.img", D("3"), "1")), why,
                           sizeof(why)), ==, 0);
        CHECK_INT(brm_osbundle_check(&b, 'a', why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "root.squashfs"));
        CHECK_INT(manifest(MANIFEST(PART("root.squashfs", D("1"), "1") "," PART("boot-a/vmlinuz", D("2"), "1") ","
                                    PART("boot/initrd.img", D("3"), "1")), why, sizeof(why)), ==, 0);
        CHECK_INT(brm_osbundle_check(&b, 'a', why, sizeof(why)), ==, 0);
        CHECK_INT(brm_osbundle_check(&b, 'b', why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "no vmlinuz"));
        CHECK_INT(manifest(MANIFEST(PART("root.squashfs", D("1"), "1") "," PART("boot/vmlinuz", D("2"), "1") ","
                                    PART("boot-a/vmlinuz", D("4"), "1") "," PART("boot/initrd.img", D("3"), "1")), why,
                           sizeof(why)), ==, 0);
        CHECK_INT(brm_osbundle_check(&b, 'a', why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "both shared and a slot's own"));
}

static void test_config(void)
{
        char why[300] = "";
        const char *good = "{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"org.bramble.os.version\":\"v2.1-3\"}}}";

        CHECK_INT(brm_osbundle_config(good, strlen(good), &b, why, sizeof(why)), ==, 0);
        CHECK(strcmp(b.arch, "arm64") == 0);
        CHECK(strcmp(b.version, "v2.1-3") == 0);
        const char *bad[] = {
                "{\"architecture\":\"arm64\",\"os\":\"windows\",\"config\":{\"Labels\":{\"org.bramble.os.version\":\"1\"}}}",
                "{\"architecture\":\"ARM/64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"org.bramble.os.version\":\"1\"}}}",
                "{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"org.bramble.os.version\":\"-1\"}}}",
                "{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{}}",
                "{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"org.bramble.os.version\":\"a b\"}}}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                CHECK_INT(brm_osbundle_config(bad[i], strlen(bad[i]), &b, why, sizeof(why)), ==, -EINVAL);
        CHECK(brm_osbundle_valid_version("7e3c1a2"));
        CHECK(brm_osbundle_valid_version("1.2.3+deb13~rc1"));
        CHECK(!brm_osbundle_valid_version(""));
        CHECK(!brm_osbundle_valid_version(".1"));
        CHECK(!brm_osbundle_valid_version("1/2"));
        CHECK(!brm_osbundle_valid_version("0123456789012345678901234567890123456789012345678901234567890123"));
}

/* Signed by one CA: verifies with that CA, not with another, and not when
 * any of the signed fields changes or the signature is cut or altered. */
static void test_signature(void)
{
        mbedtls_pk_context k1, k2;
        mbedtls_x509_crt c1, c2;
        uint8_t der[2048], sig[BRM_OSSIG_MAX];
        const char *dig = D("a");
        int len, n;

        CHECK_INT(brm_pki_init(), ==, 0);
        mbedtls_pk_init(&k1);
        mbedtls_pk_init(&k2);
        mbedtls_x509_crt_init(&c1);
        mbedtls_x509_crt_init(&c2);
        CHECK_INT(brm_pki_key_generate(&k1), ==, 0);
        CHECK_INT(brm_pki_key_generate(&k2), ==, 0);
        struct brm_cert_req r1 = { .kind = BRM_CERT_CA, .subject = "CN=ca1,O=bramble", .subject_key = &k1,
                                   .not_before_ms = 0, .not_after_ms = 4102444800000 };
        struct brm_cert_req r2 = r1;
        r2.subject = "CN=ca2,O=bramble";
        r2.subject_key = &k2;
        CHECK((n = brm_pki_issue(NULL, NULL, &r1, der, sizeof(der))) > 0);
        CHECK_INT(mbedtls_x509_crt_parse_der(&c1, der, (size_t)n), ==, 0);
        CHECK((n = brm_pki_issue(NULL, NULL, &r2, der, sizeof(der))) > 0);
        CHECK_INT(mbedtls_x509_crt_parse_der(&c2, der, (size_t)n), ==, 0);

        CHECK((len = brm_ossig_sign(&k1, dig, "v2", "arm64", sig, sizeof(sig))) > 0);
        CHECK_INT(brm_ossig_verify(&c1, dig, "v2", "arm64", sig, (size_t)len), ==, 0);
        CHECK_INT(brm_ossig_verify(&c2, dig, "v2", "arm64", sig, (size_t)len), ==, -EBADMSG);
        CHECK_INT(brm_ossig_verify(&c1, D("b"), "v2", "arm64", sig, (size_t)len), ==, -EBADMSG);
        CHECK_INT(brm_ossig_verify(&c1, dig, "v3", "arm64", sig, (size_t)len), ==, -EBADMSG);
        CHECK_INT(brm_ossig_verify(&c1, dig, "v2", "amd64", sig, (size_t)len), ==, -EBADMSG);
        CHECK_INT(brm_ossig_verify(&c1, dig, "v2", "arm64", sig, (size_t)len - 1), ==, -EBADMSG);
        sig[len / 2] ^= 1;
        CHECK_INT(brm_ossig_verify(&c1, dig, "v2", "arm64", sig, (size_t)len), ==, -EBADMSG);
        CHECK_INT(brm_ossig_verify(&c1, dig, "v2", "arm64", NULL, 0), ==, -EBADMSG);
        CHECK_INT(brm_ossig_sign(&k1, "", "v2", "arm64", sig, sizeof(sig)), ==, -EINVAL);
        mbedtls_pk_free(&k1);
        mbedtls_pk_free(&k2);
        mbedtls_x509_crt_free(&c1);
        mbedtls_x509_crt_free(&c2);
}

int main(void)
{
        test_manifest();
        test_config();
        test_signature();
        printf("ok\n");
        return 0;
}
