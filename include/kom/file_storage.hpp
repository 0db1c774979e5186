// kom/file_storage.hpp: a kom::block_storage in one file (POSIX), for the outbox on Linux
// terminals. The file is block_size * block_count bytes; erased bytes are 0xFF, like flash.
// Writes go through pwrite; sync (called by the outbox after each record's payload, after
// its commit marker and around an area header) is fsync. No heap, no exceptions.
//
//   kom::file_storage file;
//   if (file.open("/var/lib/pos/outbox", 4096, 32) != 0) ...;   // creates it when missing
//   kom::outbox<> box(file.storage(), clock);
#ifndef KOM_FILE_STORAGE_HPP
#define KOM_FILE_STORAGE_HPP

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "kom/record_log.hpp"

namespace kom {

/// A block_storage in one file, for kom::outbox on POSIX systems. Owns the file descriptor
/// (closed by the destructor); not copyable. Allocates nothing. Every operation returns 0
/// or -errno.
class file_storage {
 public:
  /// Not open: open() it before storage() is used.
  file_storage() noexcept = default;
  file_storage(const file_storage&) = delete;
  file_storage& operator=(const file_storage&) = delete;
  ~file_storage() { close(); }

  /// Opens (or creates, mode 0600) the file at `path`, grows it to block_size * block_count
  /// bytes with 0xFF when shorter. Returns 0, or -errno (-EINVAL for zero sizes).
  int open(const char* path, std::size_t block_size, std::size_t block_count) noexcept {
    close();
    if (block_size == 0 || block_count == 0) return -EINVAL;
    int fd;
    do fd = ::open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return -errno;
    fd_ = fd;
    block_size_ = block_size;
    block_count_ = block_count;
    struct stat st;
    if (::fstat(fd_, &st) != 0) return fail();
    const std::size_t want = block_size * block_count;
    if (static_cast<std::size_t>(st.st_size) < want) {
      unsigned char ff[256];
      std::memset(ff, 0xFF, sizeof ff);
      for (std::size_t at = static_cast<std::size_t>(st.st_size); at < want;) {
        const std::size_t n = want - at < sizeof ff ? want - at : sizeof ff;
        if (const int rc = pwrite_all(at, ff, n); rc != 0) return fail(rc);
        at += n;
      }
      if (::fsync(fd_) != 0) return fail();
    }
    return 0;
  }

  /// Closes the file (without a sync). Safe when closed.
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  /// True after a successful open() and before close().
  bool is_open() const noexcept { return fd_ >= 0; }

  /// The block_storage over this file; valid while this object lives and the file is open.
  block_storage storage() noexcept {
    block_storage s;
    s.context = this;
    s.block_size = block_size_;
    s.block_count = block_count_;
    s.read = [](void* c, std::size_t block, std::size_t offset, void* data, std::size_t size) {
      return static_cast<file_storage*>(c)->read(block, offset, data, size);
    };
    s.write = [](void* c, std::size_t block, std::size_t offset, const void* data, std::size_t size) {
      return static_cast<file_storage*>(c)->write(block, offset, data, size);
    };
    s.erase = [](void* c, std::size_t block) { return static_cast<file_storage*>(c)->erase(block); };
    s.sync = [](void* c) { return static_cast<file_storage*>(c)->sync(); };
    return s;
  }

  /// Reads `size` bytes at `offset` in `block` into `data`. 0, or -EINVAL when not open or
  /// outside the block, -EIO when the file is shorter than it should be, or pread's -errno.
  int read(std::size_t block, std::size_t offset, void* data, std::size_t size) noexcept {
    if (!in_range(block, offset, size)) return -EINVAL;
    unsigned char* p = static_cast<unsigned char*>(data);
    std::size_t at = block * block_size_ + offset;
    while (size > 0) {
      const ssize_t n = ::pread(fd_, p, size, static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return -errno;
      if (n == 0) return -EIO;  // the file was cut short behind our back
      p += n;
      at += static_cast<std::size_t>(n);
      size -= static_cast<std::size_t>(n);
    }
    return 0;
  }

  /// Writes `size` bytes from `data` at `offset` in `block` (no sync). 0, or -EINVAL when not
  /// open or outside the block, or pwrite's -errno (-EIO when it writes nothing).
  int write(std::size_t block, std::size_t offset, const void* data, std::size_t size) noexcept {
    if (!in_range(block, offset, size)) return -EINVAL;
    return pwrite_all(block * block_size_ + offset, data, size);
  }

  /// Fills `block` with 0xFF, then sync(). 0, or -EINVAL when not open or `block` is out of
  /// range, or pwrite's or fsync's -errno.
  int erase(std::size_t block) noexcept {
    if (!in_range(block, 0, block_size_)) return -EINVAL;
    unsigned char ff[256];
    std::memset(ff, 0xFF, sizeof ff);
    for (std::size_t at = 0; at < block_size_;) {
      const std::size_t n = block_size_ - at < sizeof ff ? block_size_ - at : sizeof ff;
      if (const int rc = pwrite_all(block * block_size_ + at, ff, n); rc != 0) return rc;
      at += n;
    }
    return sync();
  }

  /// fsync of the file. 0, or -EBADF when not open, or fsync's -errno.
  int sync() noexcept {
    if (fd_ < 0) return -EBADF;
    return ::fsync(fd_) == 0 ? 0 : -errno;
  }

 private:
  bool in_range(std::size_t block, std::size_t offset, std::size_t size) const noexcept {
    return fd_ >= 0 && block < block_count_ && offset <= block_size_ && size <= block_size_ - offset;
  }

  int pwrite_all(std::size_t at, const void* data, std::size_t size) noexcept {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    while (size > 0) {
      const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n == 0 ? -EIO : -errno;
      p += n;
      at += static_cast<std::size_t>(n);
      size -= static_cast<std::size_t>(n);
    }
    return 0;
  }

  int fail(int rc = 0) noexcept {
    const int code = rc != 0 ? rc : -errno;
    close();
    return code;
  }

  int fd_ = -1;
  std::size_t block_size_ = 0;
  std::size_t block_count_ = 0;
};

}  // namespace kom

#endif  // KOM_FILE_STORAGE_HPP
