# Sourced by scripts/s2n-deps.sh.
#
# s2n-tls's CMake build decides what the libcrypto can do by compiling and
# linking one small program per feature, tests/features/NAME.c, and defines
# NAME for each that builds. The s2n sources in ../shared/deps carry no
# tests/ folder, so without probes every feature is "absent": s2n then
# believes the libcrypto has no RSA-PSS, and an s2n client never offers
# TLS 1.3 (measured: s2n client to s2n server negotiated TLS 1.2); it also
# reads /dev/urandom instead of RAND_priv_bytes and looks digests up the
# slow pre-OpenSSL-3 way.
#
# These probes are ours (written for this project, not copied from s2n):
# each uses exactly the libcrypto calls that s2n guards with that macro, so
# it builds only when the libcrypto has them. Probes for APIs that only
# AWS-LC or OpenSSL 3.5 have (EVP_AEAD_TLS, EVP_KEM, MLKEM, MLDSA) are left
# out: those features stay off, as they would be on Debian's OpenSSL 3.0.
#
# write_s2n_feature_probes SRC_DIR: writes SRC_DIR/tests/features/*.{c,flags}.
write_s2n_feature_probes() {
    local dir=$1/tests/features
    mkdir -p "$dir"
    # A call to an undeclared function must fail the probe, not warn.
    echo "-Werror=implicit-function-declaration" >"$dir/GLOBAL.flags"

    probe() { # NAME, then the C source on stdin
        cat >"$dir/$1.c"
        : >"$dir/$1.flags"
    }

    probe S2N_LIBCRYPTO_SANITY_PROBE <<'EOF'
#include <openssl/evp.h>
int main(void) { return EVP_sha256() == NULL; }
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_RSA_PSS_SIGNING <<'EOF'
#include <openssl/evp.h>
#include <openssl/rsa.h>
int main(void)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA_PSS, NULL);
    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST);
    EVP_PKEY_CTX_free(ctx);
    return 0;
}
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_EVP_MD5_SHA1_HASH <<'EOF'
#include <openssl/evp.h>
int main(void) { return EVP_md5_sha1() == NULL; }
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_EVP_MD_CTX_SET_PKEY_CTX <<'EOF'
#include <openssl/evp.h>
int main(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD_CTX_set_pkey_ctx(ctx, NULL);
    EVP_MD_CTX_free(ctx);
    return 0;
}
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_EVP_RC4 <<'EOF'
#include <openssl/evp.h>
int main(void) { return EVP_rc4() == NULL; }
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_SHAKE <<'EOF'
#include <openssl/evp.h>
int main(void) { return EVP_shake256() == NULL; }
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_PRIVATE_RAND <<'EOF'
#include <openssl/rand.h>
int main(void) { unsigned char b[8]; return RAND_priv_bytes(b, sizeof b) != 1; }
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_PUBLIC_RAND <<'EOF'
#include <openssl/rand.h>
int main(void) { unsigned char b[8]; return RAND_public_bytes(b, sizeof b) != 1; }
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_PROVIDERS <<'EOF'
#include <openssl/evp.h>
#include <openssl/provider.h>
int main(void)
{
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", "-fips");
    EVP_MD_free(md);
    return OSSL_PROVIDER_available(NULL, "default") ? 0 : 1;
}
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_FLAG_NO_CHECK_TIME <<'EOF'
#include <openssl/x509_vfy.h>
int main(void)
{
    X509_VERIFY_PARAM *p = X509_VERIFY_PARAM_new();
    X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_NO_CHECK_TIME);
    X509_VERIFY_PARAM_free(p);
    return 0;
}
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_GET0_CHAIN <<'EOF'
#include <openssl/x509_vfy.h>
int main(void)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    X509_STORE_CTX_free(ctx);
    return chain != NULL;
}
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_X509_STORE_LIST <<'EOF'
#include <openssl/x509_vfy.h>
int main(void)
{
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(store);
    int n = sk_X509_OBJECT_num(objects);
    X509_STORE_free(store);
    return n;
}
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_CUSTOM_OID <<'EOF'
#include <openssl/x509_vfy.h>
int main(void)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = X509_STORE_CTX_add_custom_crit_oid(ctx, NULL);
    X509_STORE_CTX_free(ctx);
    return ok;
}
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_EC_KEY_CHECK_FIPS <<'EOF'
#include <openssl/ec.h>
int main(void) { return EC_KEY_check_fips(NULL); }
EOF
    probe S2N_LIBCRYPTO_SUPPORTS_HKDF <<'EOF'
#include <openssl/hkdf.h>
int main(void)
{
    unsigned char out[32];
    size_t len = sizeof out;
    return HKDF_extract(out, &len, EVP_sha256(), NULL, 0, NULL, 0);
}
EOF
    # Compiler and platform features s2n checks the same way.
    probe S2N_ATOMIC_SUPPORTED <<'EOF'
int main(void) { static int v; __atomic_store_n(&v, 1, __ATOMIC_RELAXED); return __atomic_load_n(&v, __ATOMIC_RELAXED) - 1; }
EOF
    probe S2N_CLOEXEC_SUPPORTED <<'EOF'
#include <fcntl.h>
int main(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC) < 0; }
EOF
    probe S2N_FALL_THROUGH_SUPPORTED <<'EOF'
int main(int argc, char **argv)
{
    (void)argv;
    switch (argc) {
    case 1:
        argc++;
        __attribute__((fallthrough));
    default:
        return argc - 2;
    }
}
EOF
    probe S2N_DIAGNOSTICS_PUSH_SUPPORTED <<'EOF'
#pragma GCC diagnostic push
int main(void) { return 0; }
EOF
    probe S2N_DIAGNOSTICS_POP_SUPPORTED <<'EOF'
#pragma GCC diagnostic push
#pragma GCC diagnostic pop
int main(void) { return 0; }
EOF
    probe S2N_FEATURES_AVAILABLE <<'EOF'
#include <features.h>
int main(void) { return 0; }
EOF
    unset -f probe
}
