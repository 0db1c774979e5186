// Blocks in RAM that behave like NOR flash, with power cuts: the outbox's and the record
// log's tests share it.
#ifndef KOM_TESTS_SUPPORT_MEM_STORAGE_HPP
#define KOM_TESTS_SUPPORT_MEM_STORAGE_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kom/record_log.hpp"

namespace {

// Blocks in RAM that behave like NOR flash: erase sets 0xFF, a write programs bytes. Each
// written byte and each erase is one "unit"; with a budget, the unit after the budget is where
// the power goes: a write stores only the bytes before it, and every later call fails.
struct mem_storage {
  std::size_t block_size, block_count;
  std::vector<unsigned char> data;
  std::size_t budget = SIZE_MAX;
  std::size_t units = 0;
  bool dead = false;
  std::vector<std::pair<std::size_t, std::size_t>> writes;  // (first unit, units) of every call
  bool keep_writes = false;

  mem_storage(std::size_t bs, std::size_t bc) : block_size(bs), block_count(bc), data(bs * bc, 0xFF) {}

  void reboot() {
    budget = SIZE_MAX;
    dead = false;
  }

  kom::block_storage storage() {
    kom::block_storage s;
    s.context = this;
    s.block_size = block_size;
    s.block_count = block_count;
    s.read = [](void* c, std::size_t block, std::size_t offset, void* out, std::size_t size) {
      auto* m = static_cast<mem_storage*>(c);
      if (m->dead) return -5;
      std::memcpy(out, m->data.data() + block * m->block_size + offset, size);
      return 0;
    };
    s.write = [](void* c, std::size_t block, std::size_t offset, const void* in, std::size_t size) {
      auto* m = static_cast<mem_storage*>(c);
      if (m->dead) return -5;
      if (m->keep_writes) m->writes.emplace_back(m->units, size);
      std::size_t n = size;
      if (m->budget - m->units < n) {
        n = m->budget - m->units;
        m->dead = true;
      }
      unsigned char* at = m->data.data() + block * m->block_size + offset;
      const unsigned char* from = static_cast<const unsigned char*>(in);
      for (std::size_t i = 0; i < n; ++i) at[i] &= from[i];  // flash: programming only clears bits
      m->units += n;
      return m->dead ? -5 : 0;
    };
    s.erase = [](void* c, std::size_t block) {
      auto* m = static_cast<mem_storage*>(c);
      if (m->dead) return -5;
      if (m->keep_writes) m->writes.emplace_back(m->units, 1);
      if (m->units >= m->budget) {
        m->dead = true;
        return -5;
      }
      std::memset(m->data.data() + block * m->block_size, 0xFF, m->block_size);
      m->units += 1;
      return 0;
    };
    return s;
  }
};

}  // namespace

#endif
