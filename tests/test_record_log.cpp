// kom::record_log on its own: records appended and replayed in order, a torn tail ends the
// log and is compacted away, a flipped bit is skipped, compaction keeps what it is given,
// a rewritten record reads back, and an area of a newer format is refused untouched.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kom/record_log.hpp"
#include "support/mem_storage.hpp"

namespace {

using log512 = kom::record_log<512>;

struct replayed {
  std::vector<std::uint32_t> offsets, seqs;
  std::vector<std::string> payloads;
};

replayed replay(log512& log) {
  replayed r;
  REQUIRE(log.replay([&](std::uint32_t off, std::uint32_t seq, std::size_t size) {
                 r.offsets.push_back(off);
                 r.seqs.push_back(seq);
                 r.payloads.emplace_back(reinterpret_cast<const char*>(log.buffer()), size);
               }).ok());
  return r;
}

std::uint32_t append(log512& log, std::string_view text) {
  std::uint32_t seq = 0;
  const kom::result<std::uint32_t> off =
      log.append(reinterpret_cast<const unsigned char*>(text.data()), text.size(), seq);
  REQUIRE(off.ok());
  return seq;
}

}  // namespace

TEST_CASE("record log: blank storage is formatted; records replay in order, also after a reboot") {
  mem_storage mem(256, 4);
  {
    log512 log(mem.storage());
    REQUIRE(log.open().ok());
    CHECK(log.format() == 3);
    CHECK(log.generation() == 1);
    CHECK(log.bytes_used() == log512::header_size());
    CHECK(replay(log).payloads.empty());
    CHECK(append(log, "first") == 1);
    CHECK(append(log, "second") == 2);
    CHECK(append(log, "third") == 3);
    CHECK(log.bytes_used() == log512::header_size() + log512::total_size(5) + log512::total_size(6) +
                                  log512::total_size(5));
  }
  log512 log(mem.storage());
  REQUIRE(log.open().ok());
  const replayed r = replay(log);
  CHECK(r.payloads == std::vector<std::string>{"first", "second", "third"});
  CHECK(r.seqs == std::vector<std::uint32_t>{1, 2, 3});
  CHECK(log.next_seq() == 4);
  CHECK(log.corrupt_records() == 0);
  CHECK(!log.torn_tail());
}

TEST_CASE("record log: a record cut by a power cut ends the log until compaction") {
  mem_storage mem(256, 4);
  std::vector<std::uint32_t> kept;
  {
    log512 log(mem.storage());
    REQUIRE(log.open().ok());
    append(log, "one");
    append(log, "two");
    mem.budget = mem.units + 10;  // the power goes 10 bytes into the next record
    std::uint32_t seq = 0;
    const std::string three = "three, longer than ten bytes";
    CHECK(log.append(reinterpret_cast<const unsigned char*>(three.data()), three.size(), seq).error().code() ==
          kom::errc::io_failed);
  }
  mem.reboot();
  log512 log(mem.storage());
  REQUIRE(log.open().ok());
  const replayed r = replay(log);
  CHECK(r.payloads == std::vector<std::string>{"one", "two"});
  CHECK(log.torn_tail());
  CHECK(!log.fits(1));  // nothing is written after a torn record
  std::uint32_t seq = 0;
  CHECK(log.append(reinterpret_cast<const unsigned char*>("x"), 1, seq).error().code() == kom::errc::buffer_too_small);
  // Compaction keeps what its owner names: here only "two".
  REQUIRE(log.begin_compaction().ok());
  REQUIRE(log.copy_record(r.offsets[1]).ok());
  REQUIRE(log.finish_compaction().ok());
  CHECK(log.generation() == 2);
  CHECK(replay(log).payloads == std::vector<std::string>{"two"});
  CHECK(!log.torn_tail());
  CHECK(append(log, "four") == 3);  // the torn record never took its number
  log512 again(mem.storage());
  REQUIRE(again.open().ok());
  CHECK(replay(again).payloads == std::vector<std::string>{"two", "four"});
}

TEST_CASE("record log: a flipped bit makes a record corrupt and skipped, never a crash") {
  mem_storage mem(256, 4);
  {
    log512 log(mem.storage());
    REQUIRE(log.open().ok());
    append(log, "alpha");
    append(log, "beta");
  }
  mem.data[log512::header_size() + 12 + 1] ^= 0x10;  // inside "alpha"
  log512 log(mem.storage());
  REQUIRE(log.open().ok());
  CHECK(replay(log).payloads == std::vector<std::string>{"beta"});
  CHECK(log.corrupt_records() == 1);
  std::uint32_t seq = 0;
  std::size_t payload = 0, total = 0;
  int io = 0;
  CHECK(log.read(log512::header_size(), seq, payload, total, io) == log512::read_result::corrupt);
}

TEST_CASE("record log: a record rewritten through the stream reads back; a wrong size is refused") {
  mem_storage mem(256, 4);
  log512 log(mem.storage());
  REQUIRE(log.open().ok());
  append(log, "old");
  REQUIRE(log.begin_compaction().ok());
  const std::string text(150, 'z');  // longer than the stream's chunk
  REQUIRE(log.rewrite_streamed(7, text.size(), [&](kom::detail::record_writer& w) {
                   for (char c : text) w.byte(static_cast<std::uint8_t>(c));
                 }).ok());
  CHECK(log.rewrite_streamed(8, 3, [](kom::detail::record_writer& w) { w.byte(1); }).code() ==
        kom::errc::record_corrupt);
  REQUIRE(log.finish_compaction().ok());
  const replayed r = replay(log);
  REQUIRE(r.payloads.size() == 1);
  CHECK(r.payloads[0] == text);
  CHECK(r.seqs[0] == 7);
}

TEST_CASE("record log: storage it cannot use, and a newer format, are refused") {
  mem_storage one(256, 1);
  CHECK(log512(one.storage()).open().code() == kom::errc::invalid_storage);
  mem_storage tiny(16, 2);
  CHECK(log512(tiny.storage()).open().code() == kom::errc::invalid_storage);
  mem_storage mem(256, 4);
  kom::block_storage no_write = mem.storage();
  no_write.write = nullptr;
  CHECK(log512(no_write).open().code() == kom::errc::invalid_storage);
  {
    log512 log(mem.storage());
    REQUIRE(log.open().ok());
    append(log, "kept");
  }
  mem.data[4] = 9;  // format 9, CRC made right: a later kom's area
  const std::uint32_t crc = kom::crc32_update(0, mem.data.data(), 16);
  for (std::size_t i = 0; i < 4; ++i) mem.data[16 + i] = static_cast<unsigned char>(crc >> (8 * i));
  const std::vector<unsigned char> before = mem.data;
  log512 log(mem.storage());
  const kom::error e = log.open();
  CHECK(e.code() == kom::errc::unsupported_format);
  CHECK(e.detail() == 9);
  CHECK(mem.data == before);
}
