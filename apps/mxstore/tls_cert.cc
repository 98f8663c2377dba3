// A self-signed certificate for the backup service's TLS, written by
// `mxstore init` (OpenSSL's library; no openssl command needed). The
// certificate is its own CA: clients pass it as --ca-file.
#include "tls_cert.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "common/fs.h"
#include "common/secure.h"

namespace mx::storecli {
namespace {

std::string OpenSslError(const char* what) { return std::string(what) + " failed"; }

bool AddExt(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

Status WriteSelfSignedCert(const std::string& cert_path, const std::string& key_path,
                           const std::vector<std::string>& names) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                                        EVP_PKEY_free);
  if (!key) return Error(Code::kInternal, "cannot create the TLS key", key_path, OpenSslError("EC key generation"));
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  uint8_t serial[16];
  auto rnd = RandomBytes(16);
  for (size_t i = 0; i < 16; ++i) serial[i] = rnd[i] & (i == 0 ? 0x7f : 0xff);
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn = names.empty() ? "mxstore" : names.front();
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("mxstore"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san;
  for (const auto& n : names) {
    unsigned char buf[16];
    bool ip = inet_pton(AF_INET, n.c_str(), buf) == 1 || inet_pton(AF_INET6, n.c_str(), buf) == 1;
    san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + n;
  }
  if (!AddExt(cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExt(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign") ||
      !AddExt(cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") || !AddExt(cert.get(), NID_subject_key_identifier, "hash") ||
      (!san.empty() && !AddExt(cert.get(), NID_subject_alt_name, san)))
    return Error(Code::kInternal, "cannot build the TLS certificate", cert_path, OpenSslError("X509 extensions"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return Error(Code::kInternal, "cannot sign the TLS certificate", cert_path, OpenSslError("X509_sign"));

  auto pem = [](auto write) -> std::string {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, size_t(n));
  };
  std::string key_pem = pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  std::string cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, cert.get()); });
  MX_CHECK(WriteFileAtomic(key_path, key_pem, 0600));
  MX_CHECK(WriteFileAtomic(cert_path, cert_pem, 0644));
  return Ok();
}

}  // namespace mx::storecli
