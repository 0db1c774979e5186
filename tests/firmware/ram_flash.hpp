// Blocks in RAM that behave like NOR flash, for the outbox on the board: erase sets 0xFF, a
// write only clears bits. With a budget of write and erase calls, the call after it is where
// the power goes: a write stores half its bytes, and every call fails until reboot().
#ifndef KOM_FIRMWARE_RAM_FLASH_HPP
#define KOM_FIRMWARE_RAM_FLASH_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kom/record_log.hpp"

namespace fw {

template <std::size_t BlockSize, std::size_t BlockCount>
struct ram_flash {
  unsigned char data[BlockSize * BlockCount];
  std::size_t budget = SIZE_MAX;  // write and erase calls before the power goes
  std::size_t writes = 0;         // write and erase calls so far
  bool dead = false;

  void wipe() {
    std::memset(data, 0xFF, sizeof data);
    reboot();
  }
  void reboot() {
    budget = SIZE_MAX;
    writes = 0;
    dead = false;
  }
  kom::block_storage storage() {
    kom::block_storage s;
    s.context = this;
    s.block_size = BlockSize;
    s.block_count = BlockCount;
    s.read = [](void* c, std::size_t block, std::size_t offset, void* out, std::size_t size) {
      auto* f = static_cast<ram_flash*>(c);
      if (f->dead) return -5;
      std::memcpy(out, f->data + block * BlockSize + offset, size);
      return 0;
    };
    s.write = [](void* c, std::size_t block, std::size_t offset, const void* in, std::size_t size) {
      auto* f = static_cast<ram_flash*>(c);
      if (f->dead) return -5;
      std::size_t n = size;
      if (f->writes++ == f->budget) {
        n = size / 2;
        f->dead = true;
      }
      const auto* from = static_cast<const unsigned char*>(in);
      for (std::size_t i = 0; i < n; ++i) f->data[block * BlockSize + offset + i] &= from[i];
      return f->dead ? -5 : 0;
    };
    s.erase = [](void* c, std::size_t block) {
      auto* f = static_cast<ram_flash*>(c);
      if (f->dead) return -5;
      if (f->writes++ == f->budget) {
        f->dead = true;
        return -5;
      }
      std::memset(f->data + block * BlockSize, 0xFF, BlockSize);
      return 0;
    };
    return s;
  }
};

}  // namespace fw

#endif
