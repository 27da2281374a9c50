// Directory streams. Opening a directory needs no server state: readDir is stateless (the FUSE
// offset is the server's cookie of the last entry returned, stable while the directory changes),
// and the server checks the caller's permission on every readDir.
#include <spdlog/fmt/fmt.h>

#include <vector>

#include "fuse-client/fs.h"
#include "fuse-client/ops.h"

namespace basalt::client::ops {

namespace {

// Direntry sizes: 24 bytes + name (plain), 128 + 24 + name (plus); ask for about what fits.
uint32_t entriesFor(size_t size, bool plus) {
  size_t per = plus ? 176 : 40;
  size_t n = size / per + 1;
  return static_cast<uint32_t>(n > 4096 ? 4096 : n);
}

bool isDotOrDotDot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

void readdirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  uint64_t cookie = static_cast<uint64_t>(off);
  auto p =
      fs.meta
          .call<rpc::Session::ReadDirResults>(
              fmt::format("readdir {} @{}", ino, cookie), kj::addRef(*r),
              [cred = r->cred(), ino, cookie, size, plus](rpc::Session::Client& s) {
                auto q = s.readDirRequest();
                cred.toWire(q.initCred());
                q.setIno(ino);
                q.setCookie(cookie);
                q.setMaxEntries(entriesFor(size, plus));
                q.setPlus(plus);
                return q.send();
              })
          .then([&fs, r = kj::addRef(*r), size, plus](
                    capnp::Response<rpc::Session::ReadDirResults>&& resp) {
            if (fs.replyIfError(*r, resp.getStatus())) return;
            std::vector<char> buf(size);
            size_t used = 0;
            std::vector<uint64_t> counted;  // lookups to undo if the kernel refuses the reply
            for (auto e : resp.getEntries()) {
              const char* name = e.getName().cStr();
              off_t next = static_cast<off_t>(e.getCookie());
              size_t n;
              if (plus) {
                fuse_entry_param ep = fs.entryParam(e.getAttr());
                bool dots = isDotOrDotDot(name);
                if (dots) {
                  // The kernel does not link "." and ".." (no lookup count): attributes only.
                  ep = {};
                  ep.ino = e.getIno();
                  ep.attr.st_ino = e.getIno();
                  ep.attr.st_mode = e.getMode();
                }
                n = fuse_add_direntry_plus(r->req(), buf.data() + used, size - used, name, &ep,
                                           next);
                if (n > size - used) break;
                if (!dots && ep.ino != 0) {
                  fs.inodes.addLookup(fs.snapshot(e.getAttr()));
                  counted.push_back(ep.ino);
                }
              } else {
                struct stat st = {};
                st.st_ino = e.getIno();
                st.st_mode = e.getMode() & S_IFMT;
                n = fuse_add_direntry(r->req(), buf.data() + used, size - used, name, &st, next);
                if (n > size - used) break;
              }
              used += n;
            }
            if (!r->buf(buf.data(), used)) {
              for (uint64_t ino : counted) {
                fs.forgetLookups(ino, 1);
              }
            }
          });
  fs.track(*r, kj::mv(p));
}

}  // namespace

void opendir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fi->fh = 0;
  fuse_reply_open(req, fi);
}

void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  readdirCommon(req, ino, size, off, false);
}

void readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  readdirCommon(req, ino, size, off, true);
}

void releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

// Metadata changes are durable when the server acknowledges them: nothing is left to sync.
void fsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) { fuse_reply_err(req, 0); }

}  // namespace basalt::client::ops
