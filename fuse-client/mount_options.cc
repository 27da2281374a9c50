#include "fuse-client/mount_options.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "server/text.h"

namespace basalt::client {

namespace {

bool parseDouble(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

bool parseUint(const std::string& text, uint64_t max, uint64_t* out) {
  if (text.empty() || text[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v > max) return false;
  *out = v;
  return true;
}

bool validAddress(const std::string& a) {
  size_t colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) return false;
  uint64_t port;
  return parseUint(a.substr(colon + 1), 65535, &port);
}

bool hasOption(const std::vector<std::string>& opts, const std::string& name) {
  return std::any_of(opts.begin(), opts.end(), [&](const std::string& o) {
    return o == name || o.rfind(name + "=", 0) == 0;
  });
}

// Applies one -o option: Basalt's own are consumed, the rest kept for libfuse.
Status applyOption(const std::string& opt, MountOptions* o) {
  size_t eq = opt.find('=');
  std::string key = opt.substr(0, eq);
  std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
  auto bad = [&]() { return Status::error(EINVAL, "invalid value in -o " + opt); };
  uint64_t u;
  if (key == "attr_timeout") {
    if (!parseDouble(value, &o->attrTimeout)) return bad();
  } else if (key == "entry_timeout") {
    if (!parseDouble(value, &o->entryTimeout)) return bad();
  } else if (key == "timeout") {
    if (!parseDouble(value, &o->timeoutSec) || o->timeoutSec <= 0) return bad();
  } else if (key == "rpc_timeout_ms") {
    if (!parseUint(value, 3600000, &u) || u == 0) return bad();
    o->rpcTimeoutMs = static_cast<uint32_t>(u);
  } else if (key == "hedge_ms") {
    if (!parseUint(value, 3600000, &u)) return bad();
    o->hedgeMs = static_cast<uint32_t>(u);
  } else if (key == "name") {
    if (value.empty()) return bad();
    o->clientName = value;
  } else if (key == "log_level") {
    if (value.empty()) return bad();
    o->logLevel = value;
  } else if (key == "write_behind") {
    if (!parseUint(value, 4096, &u)) return bad();
    o->writeBehindMiB = static_cast<uint32_t>(u);
  } else if (key == "read_ahead") {
    if (!parseUint(value, 4096, &u)) return bad();
    o->readAheadMiB = static_cast<uint32_t>(u);
  } else if (key == "read_cache") {
    if (!parseUint(value, 4096, &u)) return bad();
    o->readCacheMiB = static_cast<uint32_t>(u);
  } else if (key == "spin_us") {
    if (!parseUint(value, 1000, &u)) return bad();
    o->spinUs = static_cast<uint32_t>(u);
  } else if (key == "lock_delegation") {
    if (value != "0" && value != "1") return bad();
    o->lockDelegation = value == "1";
  } else if (key == "max_write") {
    if (!parseUint(value, 1u << 20, &u) || u < 4096) return bad();
    o->maxWrite = static_cast<uint32_t>(u);
  } else {
    if (key == "ro") o->readOnly = true;
    if (key == "rw") o->readOnly = false;
    if (key == "debug") {
      o->logLevel = "debug";
      o->foreground = true;
    }
    o->fuseOptions.push_back(opt);
  }
  return Status::ok();
}

}  // namespace

const char* mountUsage() {
  return "usage: basalt-mount HOST:PORT MOUNTPOINT [-o opt[,opt...]] [-f] [-d]\n"
         "  Basalt options: attr_timeout=SEC entry_timeout=SEC (default 60), timeout=SEC (total\n"
         "  deadline while servers are unreachable, default 60), rpc_timeout_ms=MS (per attempt,\n"
         "  default 5000), hedge_ms=MS (a primary silent this long: ask for a new one; a\n"
         "  replica: also read the next; default 1000, 0 = never), name=CLIENTNAME,\n"
         "  log_level=LEVEL, max_write=BYTES (default 1048576),\n"
         "  write_behind=MIB (writes in flight before write(2) waits, default 64; 0 = off),\n"
         "  read_ahead=MIB (fetched ahead for sequential readers, default 32; 0 = off),\n"
         "  read_cache=MIB (64 KiB blocks kept for small random reads, default 32; 0 = off),\n"
         "  lock_delegation=0|1 (decide the locks of files no other mount locks here; default 1),\n"
         "  spin_us=US (poll for the next request this long before sleeping, default 20; 0 = off).\n"
         "  FUSE options pass through: allow_other, ro, debug, default_permissions, fsname=...\n"
         "  -f: stay in the foreground; -d: foreground with debug logging.\n";
}

Result<MountOptions> parseMountArgs(const std::vector<std::string>& args, bool isRoot,
                                    const std::string& hostname) {
  MountOptions o;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.showHelp = true;
      return o;
    } else if (a == "-f") {
      o.foreground = true;
    } else if (a == "-d") {
      o.foreground = true;
      o.logLevel = "debug";
      o.fuseOptions.push_back("debug");
    } else if (a == "-o" || (a.rfind("-o", 0) == 0 && a.size() > 2)) {
      std::string list;
      if (a == "-o") {
        if (i + 1 >= args.size()) return Status::error(EINVAL, "-o needs an option list");
        list = args[++i];
      } else {
        list = a.substr(2);
      }
      for (const auto& opt : splitList(list)) {
        Status s = applyOption(opt, &o);
        if (!s.isOk()) return s;
      }
    } else if (!a.empty() && a[0] == '-') {
      return Status::error(EINVAL, "unknown flag " + a);
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) {
    return Status::error(EINVAL, "expected HOST:PORT and MOUNTPOINT");
  }
  o.metaAddress = positional[0];
  o.mountpoint = positional[1];
  // Several metadata servers (a replicated cluster) are comma-separated.
  auto servers = splitList(o.metaAddress);
  if (servers.empty() || !std::all_of(servers.begin(), servers.end(), validAddress)) {
    return Status::error(EINVAL, "metadata server address '" + o.metaAddress +
                                     "' is not HOST:PORT (or HOST:PORT,HOST:PORT,...)");
  }
  if (o.clientName.empty()) o.clientName = hostname + ":" + o.mountpoint;
  // A comma would end the option: a list of servers is written with ';' there.
  std::string fsname = o.metaAddress;
  std::replace(fsname.begin(), fsname.end(), ',', ';');
  if (!hasOption(o.fuseOptions, "fsname")) o.fuseOptions.push_back("fsname=basalt:" + fsname);
  if (!hasOption(o.fuseOptions, "subtype")) o.fuseOptions.push_back("subtype=basalt");
  if (isRoot && !hasOption(o.fuseOptions, "allow_other")) o.fuseOptions.push_back("allow_other");
  return o;
}

std::vector<std::string> fuseArgs(const MountOptions& opts) {
  std::vector<std::string> argv = {"basalt-mount"};
  std::string list;
  for (const auto& o : opts.fuseOptions) {
    if (!list.empty()) list += ",";
    list += o;
  }
  if (!list.empty()) {
    argv.push_back("-o");
    argv.push_back(list);
  }
  return argv;
}

}  // namespace basalt::client
