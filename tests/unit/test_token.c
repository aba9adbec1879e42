/* Token format: generate/format/parse round trip and every rejection. */
#include <errno.h>

#include "check.h"
#include "token.h"
#include "util.h"

int main(void)
{
        struct brm_token t, p;
        uint8_t hash[32];
        char text[BRM_TOKEN_MAX_LEN], bad[BRM_TOKEN_MAX_LEN + 8], h[65];

        for (int i = 0; i < 32; i++)
                hash[i] = (uint8_t)(i * 7 + 1);
        CHECK_INT(brm_token_generate(hash, &t), ==, 0);
        CHECK_INT(strlen(t.id), ==, BRM_TOKEN_ID_LEN);
        CHECK_INT(strlen(t.secret), ==, BRM_TOKEN_SECRET_LEN);
        brm_token_format(&t, text);
        CHECK(strncmp(text, "bramble1:", 9) == 0);
        CHECK(brm_token_problem(text) == NULL);
        CHECK_INT(brm_token_parse(text, &p), ==, 0);
        CHECK(memcmp(p.ca_hash, hash, 32) == 0);
        CHECK_STR(p.id, t.id);
        CHECK_STR(p.secret, t.secret);

        /* Two tokens never share a secret. */
        struct brm_token t2;
        CHECK_INT(brm_token_generate(hash, &t2), ==, 0);
        CHECK(strcmp(t.secret, t2.secret) != 0);

        /* Rejections, each with its own reason. */
        CHECK(brm_token_problem("") != NULL);
        CHECK(brm_token_problem(NULL) != NULL);
        CHECK(strstr(brm_token_problem("K10abc::x.y"), "bramble1:") != NULL);
        snprintf(bad, sizeof(bad), "%s", text);
        bad[9] = 'G'; /* not hex */
        CHECK(strstr(brm_token_problem(bad), "CA hash") != NULL);
        snprintf(bad, sizeof(bad), "%s", text);
        bad[9 + 64] = '.'; /* separator after hash */
        CHECK(strstr(brm_token_problem(bad), "CA hash") != NULL);
        snprintf(bad, sizeof(bad), "%s", text);
        bad[9 + 65] = 'A'; /* id upper case */
        CHECK(strstr(brm_token_problem(bad), "token id") != NULL);
        snprintf(bad, sizeof(bad), "%s", text);
        bad[strlen(bad) - 1] = '\0'; /* short secret */
        CHECK(strstr(brm_token_problem(bad), "secret") != NULL);
        snprintf(bad, sizeof(bad), "%sx", text); /* long secret */
        CHECK(strstr(brm_token_problem(bad), "secret") != NULL);
        CHECK_INT(brm_token_parse(bad, &p), ==, -EINVAL);
        /* p untouched on failure */
        CHECK_STR(p.id, t.id);

        /* The stored form is a SHA-256 of the secret, never the secret. */
        CHECK_INT(brm_token_hash_secret("abc", h), ==, 0);
        CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        CHECK(brm_token_valid_id("abc123"));
        CHECK(!brm_token_valid_id("abc12"));
        CHECK(!brm_token_valid_id("ABC123"));
        printf("token: ok\n");
        return 0;
}
