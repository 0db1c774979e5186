// kom/testing/fake_transport.hpp: kom::testing::fake_transport, an in-memory kom::transport
// for tests. A test tool: not part of kom's installed headers.
//
// It plays the network and the server. A responder function sees each complete HTTP request
// the client sends and queues the answer's bytes with reply(); the client then reads them.
// Any call can be made to fail, stall or cut the connection (fault_at, fault_on_connect,
// stall_recv), and I/O can be made partial (max_io) or interrupted (block_every), so a test
// walks a client through every failure a terminal's network produces, without a socket:
//
//   void answer(void*, kom::testing::fake_transport& fake, std::string_view request) {
//     fake.reply("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
//   }
//
//   kom::testing::fake_transport fake;
//   fake.set_responder(answer, nullptr);
//   fake.fault_at(3, kom::testing::fake_fault::reset);   // the third connect/send/recv call is reset
//   // ... give fake.transport() to the client, then look at fake.sent(), fake.requests() ...
//
// What each fault does to each call (the connection stays as it was unless noted):
//
//   fault        connect                send                     recv
//   refuse       io::refused            io::refused (*)          io::refused (*)
//   unresolved   io::unresolved         io::unresolved (*)       io::unresolved (*)
//   time_out     io::timed_out          io::timed_out            io::timed_out
//   would_block  io::would_block (*)    io::would_block          io::would_block
//   reset        io::closed (*)         io::closed, down         io::closed, down
//   eof          io::closed (*)         io::closed, down         0, down
//   fail         io::failed             io::failed               io::failed
//   tls_cut      io::failed (**)        io::failed (***), down   io::failed (***), down
//
// (*) outside what kom/transport.hpp allows that call to return: for testing how a client
// copes with a transport that breaks its contract. A faulted connect never connects, and
// a faulted call moves no bytes. "down": the connection is lost (unread reply bytes are
// dropped); send and recv return io::closed until the next connect.
//
// (**) error() says errc::tls_handshake_failed: a TLS stream whose handshake the network
// cut. (***) error() says errc::tls_failed: a TLS record the network cut.
//
// cut_requests() cuts the next requests the client sends after a chosen number of their
// bytes (none, one, half, all but the last, all), as a link that drops mid-request does.
//
// Capacities are template parameters (kom::testing::fake_transport is 64 KiB each); beyond
// them bytes are not kept and a flag says so. No heap, no exceptions, not thread-safe.
#ifndef KOM_TESTING_FAKE_TRANSPORT_HPP
#define KOM_TESTING_FAKE_TRANSPORT_HPP

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "kom/error.hpp"
#include "kom/transport.hpp"

namespace kom {
namespace testing {

/// A failure kom::testing::fake_transport can give one call; see the table at the top of this file.
enum class fake_fault : std::uint8_t {
  none,         ///< no fault: the call goes ahead
  refuse,       ///< connect returns io::refused
  unresolved,   ///< connect returns io::unresolved
  time_out,     ///< the call returns io::timed_out (connect, send or recv)
  would_block,  ///< the call returns io::would_block once (nothing moved)
  reset,        ///< send/recv return io::closed and the connection is down
  eof,          ///< recv returns 0 (peer closed in order) and the connection is down
  fail,         ///< returns io::failed
  /// connect returns io::failed with error() errc::tls_handshake_failed (the handshake was
  /// cut); send and recv return io::failed with errc::tls_failed and the connection is down
  tls_cut,
};

/// Where cut_requests() cuts a request. Positions count the bytes the client offers in the
/// first send call of the request (kom::client offers a whole request in one call).
enum class fake_cut : std::uint8_t {
  none,         ///< no cut
  at_start,     ///< before its first byte
  after_first,  ///< after its first byte
  at_half,      ///< after half of it (size / 2 bytes)
  before_last,  ///< after all but its last byte
  /// after all of it: the responder sees the request and answers, then the connection drops
  /// before the client reads a byte of the answer
  after_last,
};

/// An in-memory transport with a scripted server; see the top of this file.
/// SentLog: bytes of sent() kept. ReplyQueue: reply bytes queued and not yet read.
/// MaxRequest: bytes of one request kept for the responder and last_request().
template <std::size_t SentLog = 65536, std::size_t ReplyQueue = 65536, std::size_t MaxRequest = 65536>
class basic_fake_transport {
  static_assert(SentLog > 0 && ReplyQueue > 0 && MaxRequest > 0, "capacities are at least 1");

 public:
  /// Faults that can wait to happen, for fault_at and for fault_on_connect each.
  static constexpr std::size_t max_faults = 32;
  /// Bytes of last_host() kept.
  static constexpr std::size_t max_host = 255;

  /// Plays the server: called once per complete HTTP request the client sent (the head up
  /// to CRLFCRLF plus Content-Length body bytes; no Content-Length: no body), with that
  /// request's bytes, from inside the send() that completed it. It answers with reply()
  /// (any number of times) and may call close_after_reply() or any other setter, but not
  /// reset().
  using responder = void (*)(void* context, basic_fake_transport& fake, std::string_view request);

  /// Nothing connected, sent, queued or scripted.
  basic_fake_transport() noexcept = default;
  basic_fake_transport(const basic_fake_transport&) = delete;
  basic_fake_transport& operator=(const basic_fake_transport&) = delete;

  // --- Scripting the server and the network ----------------------------------------------

  /// The server's answer to each request; nullptr for none (requests are still counted).
  void set_responder(responder r, void* context) noexcept {
    responder_ = r;
    responder_context_ = context;
  }

  /// Queues bytes for the client to receive; also before connect or without a responder.
  /// Bytes beyond ReplyQueue unread ones are dropped and reply_overflow() is set.
  void reply(std::string_view bytes) noexcept {
    if (reply_begin_ != 0) {  // make room at the end: move the unread bytes to the front
      std::memmove(reply_, reply_ + reply_begin_, reply_end_ - reply_begin_);
      reply_end_ -= reply_begin_;
      reply_begin_ = 0;
    }
    std::size_t n = bytes.size();
    if (n > ReplyQueue - reply_end_) {
      n = ReplyQueue - reply_end_;
      reply_overflow_ = true;
    }
    if (n != 0) std::memcpy(reply_ + reply_end_, bytes.data(), n);
    reply_end_ += n;
  }

  /// Once the queued bytes are read, the server has closed: bytes sent afterwards are
  /// taken but never answered, and the next recv returns 0 with the connection down (an
  /// idle kept-alive connection the server timed out). Closing the connection first cancels it.
  void close_after_reply() noexcept { eof_after_reply_ = true; }

  /// The op-th call (1-based, counting connect, send and recv calls alike, see
  /// operations()) gets fault f. Setting an op again replaces its fault; fake_fault::none
  /// removes it; op 0 never happens. More than max_faults waiting: counted in
  /// dropped_faults(), not kept.
  void fault_at(std::size_t op, fake_fault f) noexcept { set_fault(op_faults_, op_fault_count_, op, f); }

  /// The n-th connect call (1-based, counting failed ones) gets fault f. A fault_at for the
  /// same call takes precedence (and this one stays waiting for nothing).
  void fault_on_connect(std::size_t n, fake_fault f) noexcept {
    set_fault(connect_faults_, connect_fault_count_, n, f);
  }

  /// Partial I/O: at most this many bytes per send or recv; 0 for no limit (the default).
  void max_io(std::size_t bytes) noexcept { max_io_ = bytes; }

  /// Every k-th send or recv that would move bytes or fail returns io::would_block first
  /// (the call after it goes ahead); 0 turns this off (the default).
  void block_every(std::size_t k) noexcept {
    block_every_ = k;
    io_calls_ = 0;
    blocked_ = false;
  }

  /// From now on recv returns io::timed_out, even with reply bytes queued (a server that
  /// stopped answering), across reconnects, until resume_recv() or reset().
  void stall_recv() noexcept { stalled_ = true; }
  /// Ends stall_recv(): recv answers from the reply queue again.
  void resume_recv() noexcept { stalled_ = false; }

  /// The next `count` requests the client starts sending on a connection whose peer has not
  /// closed are cut at `where` (see fake_cut): the bytes before the cut are taken (and kept
  /// in sent()), then the connection is down as after fake_fault::reset. The send call that
  /// reaches the cut returns the bytes it took, or io::closed (errc::connection_closed) when
  /// it took none; later send and recv calls return io::closed until the next connect. A
  /// request cut before its end never reaches the responder. A connection lost otherwise
  /// while a cut request is being sent ends that cut (it still counts). fake_cut::none or a
  /// count of 0 cancels the cuts still waiting.
  void cut_requests(fake_cut where, std::size_t count = 1) noexcept {
    cut_where_ = count == 0 ? fake_cut::none : where;
    cuts_waiting_ = cut_where_ == fake_cut::none ? 0 : count;
  }

  /// Requests cut so far by cut_requests().
  std::size_t cut_count() const noexcept { return cuts_; }
  /// Cuts that cut_requests() set and that have not happened yet.
  std::size_t cuts_waiting() const noexcept { return cuts_waiting_; }

  /// Back to the state of a new object: nothing connected, sent, queued or scripted.
  void reset() noexcept {
    responder_ = nullptr;
    responder_context_ = nullptr;
    sent_size_ = 0;
    sent_overflow_ = false;
    reply_begin_ = reply_end_ = 0;
    reply_overflow_ = false;
    eof_after_reply_ = false;
    start_request();
    last_size_ = 0;
    request_overflow_ = false;
    op_fault_count_ = connect_fault_count_ = dropped_faults_ = 0;
    max_io_ = 0;
    block_every(0);
    stalled_ = false;
    cut_where_ = fake_cut::none;
    cuts_waiting_ = cuts_ = 0;
    cutting_ = false;
    cut_left_ = 0;
    open_ = connected_ = false;
    operations_ = connect_calls_ = connects_ = closes_ = close_calls_ = requests_ = violations_ = 0;
    host_size_ = 0;
    port_ = 0;
    connect_timeout_ = recv_timeout_ = 0;
    error_ = {};
  }

  // --- What happened ---------------------------------------------------------------------

  std::size_t operations() const noexcept { return operations_; }  ///< connect+send+recv calls so far
  std::size_t connect_calls() const noexcept { return connect_calls_; }  ///< connect calls, failed ones too
  std::size_t connects() const noexcept { return connects_; }      ///< successful connects
  /// close() calls that ended a connection the client had opened, also one the peer had
  /// already dropped (reset, eof); closing when closed is not counted.
  std::size_t closes() const noexcept { return closes_; }
  std::size_t close_calls() const noexcept { return close_calls_; }  ///< every close() call
  std::size_t requests() const noexcept { return requests_; }        ///< complete requests seen

  /// Every byte the client ever sent, in order: the first SentLog of them.
  std::string_view sent() const noexcept { return {sent_, sent_size_}; }
  /// More than SentLog bytes were sent: sent() holds only the first SentLog.
  bool sent_overflow() const noexcept { return sent_overflow_; }

  /// The last complete request (its first MaxRequest bytes); valid until the next one
  /// completes. Empty before the first.
  std::string_view last_request() const noexcept { return {requests_buf_[last_], last_size_}; }
  /// A request longer than MaxRequest was seen (the responder got its first MaxRequest bytes).
  bool request_overflow() const noexcept { return request_overflow_; }

  /// Reply bytes queued and not yet read.
  std::string_view pending_reply() const noexcept { return {reply_ + reply_begin_, reply_end_ - reply_begin_}; }
  /// reply() dropped bytes because ReplyQueue unread ones were already queued.
  bool reply_overflow() const noexcept { return reply_overflow_; }

  /// The connection is up: connected, and not closed, reset or ended by either side since.
  bool connected() const noexcept { return connected_; }
  /// The host and port of the last connect call (the first max_host bytes of the host).
  std::string_view last_host() const noexcept { return {host_, host_size_}; }
  /// The port of the last connect call.
  std::uint16_t last_port() const noexcept { return port_; }
  /// The timeout_ms of the last connect call.
  std::uint32_t last_connect_timeout() const noexcept { return connect_timeout_; }
  /// The timeout_ms of the last recv call.
  std::uint32_t last_recv_timeout() const noexcept { return recv_timeout_; }

  /// Calls that broke kom/transport.hpp's rules: connect while connected, send or recv of
  /// 0 bytes or from a null pointer. Each returned io::failed.
  std::size_t contract_violations() const noexcept { return violations_; }
  /// Faults not kept because max_faults were already waiting.
  std::size_t dropped_faults() const noexcept { return dropped_faults_; }

  // --- The transport interface -------------------------------------------------------------

  /// kom/transport.hpp's connect: io::ok and connected, or the fault waiting for this call
  /// (see the table at the top of this file); io::failed when already connected. Records
  /// the host (first max_host bytes), port and timeout.
  int connect(std::string_view host, std::uint16_t port, std::uint32_t timeout_ms) noexcept {
    const std::size_t op = ++operations_;
    const std::size_t call = ++connect_calls_;
    host_size_ = host.size() < max_host ? host.size() : max_host;
    if (host_size_ != 0) std::memcpy(host_, host.data(), host_size_);
    port_ = port;
    connect_timeout_ = timeout_ms;
    error_ = {};
    fake_fault f = take_fault(op_faults_, op_fault_count_, op);
    if (f == fake_fault::none) f = take_fault(connect_faults_, connect_fault_count_, call);
    if (f != fake_fault::none) return connect_fault(f, op);
    if (open_) return violation(op);
    open_ = connected_ = true;
    start_request();
    ++connects_;
    return io::ok;
  }

  /// kom/transport.hpp's send: logs the bytes (first SentLog) and passes each completed
  /// request to the responder; the count taken (at most max_io()), or a fault, io::closed
  /// when not connected, io::failed for a null or empty buffer, io::would_block (block_every()).
  int send(const unsigned char* data, std::size_t size) noexcept {
    const std::size_t op = ++operations_;
    const fake_fault f = take_fault(op_faults_, op_fault_count_, op);
    if (f != fake_fault::none) return io_fault(f, op, false);
    if (!connected_) return fail(io::closed, errc::connection_closed, op);
    if (data == nullptr || size == 0) return violation(op);
    if (block_now()) return io::would_block;
    std::size_t n = limit(size);
    // A peer that has sent its last reply and closed takes bytes (as TCP does after a FIN)
    // but answers none of them; the next recv sees the close.
    const bool peer_closed = eof_after_reply_ && reply_begin_ == reply_end_;
    bool cut_now = false;
    if (!peer_closed) {
      if (!cutting_ && cuts_waiting_ != 0 && request_size_ == 0 && head_match_ == 0 && !in_body_) {
        --cuts_waiting_;
        ++cuts_;
        cutting_ = true;
        cut_left_ = cut_position(cut_where_, size);
        if (cuts_waiting_ == 0) cut_where_ = fake_cut::none;
      }
      if (cutting_ && n >= cut_left_) {
        n = cut_left_;
        cut_now = true;
      }
    }
    if (n == 0) {  // cut before any byte of this call
      drop();
      return fail(io::closed, errc::connection_closed, op);
    }
    const std::size_t logged = n < SentLog - sent_size_ ? n : SentLog - sent_size_;
    if (logged != 0) std::memcpy(sent_ + sent_size_, data, logged);
    sent_size_ += logged;
    if (logged != n) sent_overflow_ = true;
    if (!peer_closed) {
      if (cutting_) cut_left_ -= n;
      for (std::size_t i = 0; i < n; ++i) take_request_byte(static_cast<char>(data[i]));
    }
    if (cut_now) drop();  // after the responder: an answer to a whole request is lost too
    return static_cast<int>(n);
  }

  /// kom/transport.hpp's recv: queued reply bytes (at most max_io()), 0 after
  /// close_after_reply()'s bytes are read, io::timed_out when nothing is queued or after
  /// stall_recv(), or a fault, io::closed when not connected, io::failed for a null or empty
  /// buffer, io::would_block (block_every()). Never waits.
  int recv(unsigned char* data, std::size_t size, std::uint32_t timeout_ms) noexcept {
    const std::size_t op = ++operations_;
    recv_timeout_ = timeout_ms;
    const fake_fault f = take_fault(op_faults_, op_fault_count_, op);
    if (f != fake_fault::none) return io_fault(f, op, true);
    if (!connected_) return fail(io::closed, errc::connection_closed, op);
    if (data == nullptr || size == 0) return violation(op);
    if (block_now()) return io::would_block;
    if (stalled_) return fail(io::timed_out, errc::timed_out, op);
    const std::size_t queued = reply_end_ - reply_begin_;
    if (queued != 0) {
      const std::size_t n = limit(size < queued ? size : queued);
      std::memcpy(data, reply_ + reply_begin_, n);
      reply_begin_ += n;
      if (reply_begin_ == reply_end_) reply_begin_ = reply_end_ = 0;
      return static_cast<int>(n);
    }
    if (eof_after_reply_) {
      drop();
      return 0;
    }
    return fail(io::timed_out, errc::timed_out, op);  // the client's read timeout ran out
  }

  /// Ends the connection: unread reply bytes and a pending close_after_reply are dropped.
  /// When not connected it does nothing (bytes queued for the next connection stay).
  void close() noexcept {
    ++close_calls_;
    if (!open_) return;
    ++closes_;
    open_ = false;
    drop();
  }

  /// The last failure since connect() began, ok when none: the errc of the io code
  /// returned (connect's io::failed: errc::connect_failed), with the number of the failing
  /// call (as operations() counts) as its detail. io::would_block is not a failure.
  kom::error error() const noexcept { return error_; }

  /// This fake as a kom::transport; *this must outlive it.
  kom::transport transport() noexcept { return make_transport(*this); }

 private:
  struct pending_fault {
    std::size_t at;
    fake_fault fault;
  };

  void set_fault(pending_fault* table, std::size_t& count, std::size_t at, fake_fault f) noexcept {
    if (at == 0) return;
    for (std::size_t i = 0; i < count; ++i) {
      if (table[i].at != at) continue;
      if (f == fake_fault::none) {
        table[i] = table[--count];
      } else {
        table[i].fault = f;
      }
      return;
    }
    if (f == fake_fault::none) return;
    if (count == max_faults) {
      ++dropped_faults_;
      return;
    }
    table[count++] = pending_fault{at, f};
  }

  static fake_fault take_fault(pending_fault* table, std::size_t& count, std::size_t at) noexcept {
    for (std::size_t i = 0; i < count; ++i) {
      if (table[i].at != at) continue;
      const fake_fault f = table[i].fault;
      table[i] = table[--count];
      return f;
    }
    return fake_fault::none;
  }

  int fail(int code, errc e, std::size_t op) noexcept {
    error_ = kom::error(e, static_cast<std::int64_t>(op));
    return code;
  }

  int violation(std::size_t op) noexcept {
    ++violations_;
    return fail(io::failed, errc::io_failed, op);
  }

  int connect_fault(fake_fault f, std::size_t op) noexcept {
    switch (f) {
      case fake_fault::refuse: return fail(io::refused, errc::connect_failed, op);
      case fake_fault::unresolved: return fail(io::unresolved, errc::resolve_failed, op);
      case fake_fault::time_out: return fail(io::timed_out, errc::timed_out, op);
      case fake_fault::would_block: return io::would_block;
      case fake_fault::reset:
      case fake_fault::eof: return fail(io::closed, errc::connection_closed, op);
      case fake_fault::tls_cut: return fail(io::failed, errc::tls_handshake_failed, op);
      case fake_fault::none:
      case fake_fault::fail: break;
    }
    return fail(io::failed, errc::connect_failed, op);
  }

  int io_fault(fake_fault f, std::size_t op, bool receiving) noexcept {
    switch (f) {
      case fake_fault::refuse: return fail(io::refused, errc::connect_failed, op);
      case fake_fault::unresolved: return fail(io::unresolved, errc::resolve_failed, op);
      case fake_fault::time_out: return fail(io::timed_out, errc::timed_out, op);
      case fake_fault::would_block: return io::would_block;
      case fake_fault::reset: drop(); return fail(io::closed, errc::connection_closed, op);
      case fake_fault::eof:
        drop();
        return receiving ? 0 : fail(io::closed, errc::connection_closed, op);
      case fake_fault::tls_cut: drop(); return fail(io::failed, errc::tls_failed, op);
      case fake_fault::none:
      case fake_fault::fail: break;
    }
    return fail(io::failed, errc::io_failed, op);
  }

  // The connection is lost; the client's handle stays open until it calls close().
  void drop() noexcept {
    connected_ = false;
    reply_begin_ = reply_end_ = 0;
    eof_after_reply_ = false;
    cutting_ = false;
    start_request();
  }

  // The bytes of a request of `size` bytes that cut_requests() lets through.
  static std::size_t cut_position(fake_cut where, std::size_t size) noexcept {
    switch (where) {
      case fake_cut::none: break;
      case fake_cut::at_start: return 0;
      case fake_cut::after_first: return size < 1 ? size : 1;
      case fake_cut::at_half: return size / 2;
      case fake_cut::before_last: return size == 0 ? 0 : size - 1;
      case fake_cut::after_last: return size;
    }
    return size;
  }

  bool block_now() noexcept {
    if (block_every_ == 0) return false;
    if (!blocked_ && (io_calls_ + 1) % block_every_ == 0) {
      blocked_ = true;
      return true;
    }
    blocked_ = false;
    ++io_calls_;
    return false;
  }

  std::size_t limit(std::size_t n) const noexcept {
    if (max_io_ != 0 && n > max_io_) n = max_io_;
    return n > static_cast<std::size_t>(INT_MAX) ? static_cast<std::size_t>(INT_MAX) : n;
  }

  void start_request() noexcept {
    request_size_ = 0;
    head_match_ = 0;
    in_body_ = false;
    body_left_ = 0;
  }

  // Frames the sent bytes into requests, one byte at a time, so that any split works.
  void take_request_byte(char c) noexcept {
    char* request = requests_buf_[current_];
    if (request_size_ < MaxRequest) {
      request[request_size_] = c;
    } else {
      request_overflow_ = true;
    }
    ++request_size_;
    if (in_body_) {
      if (--body_left_ == 0) finish_request();
      return;
    }
    // Matching "\r\n\r\n": on a mismatch, a '\r' still starts a new match.
    static constexpr char end_of_head[] = "\r\n\r\n";
    head_match_ = c == end_of_head[head_match_] ? head_match_ + 1 : (c == '\r' ? 1 : 0);
    if (head_match_ < 4) return;
    body_left_ = content_length({request, request_size_ < MaxRequest ? request_size_ : MaxRequest});
    in_body_ = true;
    if (body_left_ == 0) finish_request();
  }

  void finish_request() noexcept {
    last_ = current_;
    last_size_ = request_size_ < MaxRequest ? request_size_ : MaxRequest;
    current_ ^= 1u;
    start_request();
    ++requests_;
    if (responder_ != nullptr) responder_(responder_context_, *this, last_request());
  }

  // The value of the head's Content-Length header; 0 when it has none or it is not a number.
  static std::size_t content_length(std::string_view head) noexcept {
    constexpr std::string_view name = "content-length:";
    std::size_t line = head.find("\r\n");  // skip the request line
    while (line != std::string_view::npos && line + 2 < head.size()) {
      const std::size_t start = line + 2;
      line = head.find("\r\n", start);
      const std::string_view text = head.substr(start, line == std::string_view::npos ? std::string_view::npos : line - start);
      if (text.size() < name.size()) continue;
      bool match = true;
      for (std::size_t i = 0; i < name.size() && match; ++i) {
        const char c = text[i];
        match = (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) == name[i];
      }
      if (!match) continue;
      std::size_t i = name.size();
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      std::size_t value = 0;
      for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        const auto digit = static_cast<std::size_t>(text[i] - '0');
        if (value > (SIZE_MAX - digit) / 10) return 0;
        value = value * 10 + digit;
      }
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      return i == text.size() ? value : 0;
    }
    return 0;
  }

  responder responder_ = nullptr;
  void* responder_context_ = nullptr;

  char sent_[SentLog];
  std::size_t sent_size_ = 0;
  bool sent_overflow_ = false;

  char reply_[ReplyQueue];
  std::size_t reply_begin_ = 0;
  std::size_t reply_end_ = 0;
  bool reply_overflow_ = false;
  bool eof_after_reply_ = false;

  // Two request buffers: one being filled, one holding the last complete request.
  char requests_buf_[2][MaxRequest];
  unsigned current_ = 0;
  unsigned last_ = 1;
  std::size_t request_size_ = 0;  // bytes of the current request, also those not kept
  std::size_t last_size_ = 0;
  std::size_t head_match_ = 0;
  bool in_body_ = false;
  std::size_t body_left_ = 0;
  bool request_overflow_ = false;

  pending_fault op_faults_[max_faults] = {};
  std::size_t op_fault_count_ = 0;
  pending_fault connect_faults_[max_faults] = {};
  std::size_t connect_fault_count_ = 0;
  std::size_t dropped_faults_ = 0;

  std::size_t max_io_ = 0;
  std::size_t block_every_ = 0;
  std::size_t io_calls_ = 0;
  bool blocked_ = false;
  bool stalled_ = false;

  fake_cut cut_where_ = fake_cut::none;
  std::size_t cuts_waiting_ = 0;  // requests still to cut
  std::size_t cuts_ = 0;          // requests cut
  bool cutting_ = false;          // the request being sent is cut
  std::size_t cut_left_ = 0;      // its bytes still let through

  bool open_ = false;       // the client's view: connected and not yet closed by it
  bool connected_ = false;  // the link: also false once the peer reset or ended it
  std::size_t operations_ = 0;
  std::size_t connect_calls_ = 0;
  std::size_t connects_ = 0;
  std::size_t closes_ = 0;
  std::size_t close_calls_ = 0;
  std::size_t requests_ = 0;
  std::size_t violations_ = 0;

  char host_[max_host];
  std::size_t host_size_ = 0;
  std::uint16_t port_ = 0;
  std::uint32_t connect_timeout_ = 0;
  std::uint32_t recv_timeout_ = 0;

  kom::error error_;
};

/// The fake with 64 KiB for the sent log, the reply queue and one request.
using fake_transport = basic_fake_transport<>;

}  // namespace testing
}  // namespace kom

#endif  // KOM_TESTING_FAKE_TRANSPORT_HPP
