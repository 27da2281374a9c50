#include "fuse-client/errors.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace basalt::client {

namespace {
constexpr char kPrefix[] = "[errno ";
}

int errnoFromStatus(int32_t code) {
  if (code == 0) return 0;
  if (code < 0 && code > -4096) code = -code;
  if (code <= 0 || code >= 4096 || strerrorname_np(code) == nullptr) return EIO;
  if (code == ENOSYS) return EOPNOTSUPP;
  return code;
}

int errnoFromStatus(rpc::Status::Reader status) { return errnoFromStatus(status.getCode()); }

kj::Exception errnoException(int err, const std::string& message) {
  return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                       kj::str(kPrefix, err, "] ", message.c_str()));
}

int errnoFromException(const kj::Exception& e) {
  kj::StringPtr d = e.getDescription();
  size_t n = sizeof(kPrefix) - 1;
  if (d.size() > n && strncmp(d.cStr(), kPrefix, n) == 0) {
    int err = atoi(d.cStr() + n);
    if (err > 0) return errnoFromStatus(err);
  }
  return EIO;
}

bool isErrnoException(const kj::Exception& e) {
  return strncmp(e.getDescription().cStr(), kPrefix, sizeof(kPrefix) - 1) == 0;
}

std::string describeException(const kj::Exception& e) {
  std::string d = e.getDescription().cStr();
  if (d.rfind(kPrefix, 0) == 0) {
    size_t close = d.find("] ");
    if (close != std::string::npos) return d.substr(close + 2);
  }
  if (d.find("timed out") != std::string::npos) return "timed out";
  // kj formats syscall failures as "connect(): Connection refused; details"; keep the reason.
  size_t semi = d.find("; ");
  if (semi != std::string::npos) d = d.substr(0, semi);
  size_t colon = d.rfind(": ");
  std::string reason = colon == std::string::npos ? d : d.substr(colon + 2);
  if (!reason.empty() && reason[0] >= 'A' && reason[0] <= 'Z' &&
      (reason.size() < 2 || !(reason[1] >= 'A' && reason[1] <= 'Z'))) {
    reason[0] = static_cast<char>(reason[0] - 'A' + 'a');
  }
  return reason;
}

}  // namespace basalt::client
