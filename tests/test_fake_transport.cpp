#include "kom/testing/fake_transport.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/alloc_counter.hpp"

namespace {

using kom::errc;
using kom::testing::fake_fault;
namespace io = kom::io;

int send_text(kom::testing::fake_transport& f, std::string_view text) {
  return f.send(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

// One recv of up to `size` bytes; the bytes land in *out.
int recv_text(kom::testing::fake_transport& f, std::string* out, std::size_t size = 256) {
  std::string buf(size, '\0');
  const int r = f.recv(reinterpret_cast<unsigned char*>(&buf[0]), size, 1000);
  if (r > 0) out->assign(buf, 0, static_cast<std::size_t>(r));
  return r;
}

// A server that records every request and answers each with `answer`.
struct recording_server {
  std::vector<std::string> requests;
  std::vector<std::size_t> sent_when_called;  // bytes in sent() when the responder ran
  std::string answer = "HTTP/1.1 204 No Content\r\n\r\n";
  bool close_after = false;

  static void respond(void* context, kom::testing::fake_transport& fake, std::string_view request) {
    auto* self = static_cast<recording_server*>(context);
    self->requests.emplace_back(request);
    self->sent_when_called.push_back(fake.sent().size());
    if (!self->answer.empty()) fake.reply(self->answer);
    if (self->close_after) fake.close_after_reply();
  }
};

constexpr std::string_view get_request = "GET /ordermanagement/v1/orders/abc HTTP/1.1\r\nHost: x\r\n\r\n";
constexpr std::string_view post_request =
    "POST /ordermanagement/v1/orders/abc/captures HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{\"a\":12345}";

}  // namespace

TEST_CASE("fake transport: connect, send, recv and close") {
  kom::testing::fake_transport f;
  CHECK_FALSE(f.connected());
  CHECK(f.operations() == 0);
  CHECK(f.error().ok());
  CHECK(f.last_request().empty());

  REQUIRE(f.connect("api.klarna.com", 443, 7000) == io::ok);
  CHECK(f.connected());
  CHECK(f.connects() == 1);
  CHECK(f.connect_calls() == 1);
  CHECK(f.last_host() == "api.klarna.com");
  CHECK(f.last_port() == 443);
  CHECK(f.last_connect_timeout() == 7000);

  CHECK(send_text(f, "hello") == 5);
  CHECK(f.sent() == "hello");
  CHECK_FALSE(f.sent_overflow());

  f.reply("world");
  CHECK(f.pending_reply() == "world");
  std::string got;
  CHECK(recv_text(f, &got) == 5);
  CHECK(got == "world");
  CHECK(f.pending_reply().empty());
  CHECK(f.last_recv_timeout() == 1000);

  // Nothing queued and the connection up: the client's read timeout runs out.
  CHECK(recv_text(f, &got) == io::timed_out);
  CHECK(f.error().code() == errc::timed_out);
  CHECK(f.operations() == 4);  // connect, send, recv and recv, counted alike
  CHECK(f.error().detail() == 4);  // the number of the call that failed
  CHECK(f.connected());

  f.close();
  CHECK_FALSE(f.connected());
  CHECK(f.closes() == 1);
  CHECK(send_text(f, "x") == io::closed);
  CHECK(f.error().code() == errc::connection_closed);
  CHECK(recv_text(f, &got) == io::closed);
  CHECK(f.error().code() == errc::connection_closed);
  CHECK(f.sent() == "hello");  // nothing logged when closed

  f.close();  // closing when closed: counted as a call, not as a close
  CHECK(f.closes() == 1);
  CHECK(f.close_calls() == 2);

  // connect clears the last failure.
  REQUIRE(f.connect("127.0.0.1", 8443, 0) == io::ok);
  CHECK(f.error().ok());
  CHECK(f.connects() == 2);
  CHECK(f.last_host() == "127.0.0.1");
  CHECK(f.last_port() == 8443);
}

TEST_CASE("fake transport: closing drops unread reply bytes") {
  kom::testing::fake_transport f;
  f.reply("early");  // queued before connect: kept for the connection
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  f.close();  // the client never read them
  CHECK(f.pending_reply().empty());
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  std::string got;
  CHECK(recv_text(f, &got) == io::timed_out);
}

TEST_CASE("fake transport: every fault on connect") {
  struct expectation {
    fake_fault fault;
    int result;
    errc code;
  };
  const expectation cases[] = {
      {fake_fault::refuse, io::refused, errc::connect_failed},
      {fake_fault::unresolved, io::unresolved, errc::resolve_failed},
      {fake_fault::time_out, io::timed_out, errc::timed_out},
      {fake_fault::would_block, io::would_block, errc::ok},
      {fake_fault::reset, io::closed, errc::connection_closed},
      {fake_fault::eof, io::closed, errc::connection_closed},
      {fake_fault::fail, io::failed, errc::connect_failed},
  };
  for (const expectation& c : cases) {
    CAPTURE(static_cast<int>(c.fault));
    kom::testing::fake_transport f;
    f.fault_at(1, c.fault);
    CHECK(f.connect("h", 443, 1000) == c.result);
    CHECK_FALSE(f.connected());
    CHECK(f.connects() == 0);
    CHECK(f.connect_calls() == 1);
    CHECK(f.error().code() == c.code);
    CHECK(f.error().detail() == (c.code == errc::ok ? 0 : 1));
    // A faulted connect leaves nothing open: send fails, close counts nothing.
    CHECK(send_text(f, "x") == io::closed);
    f.close();
    CHECK(f.closes() == 0);
    // The fault happened once; the next connect works.
    CHECK(f.connect("h", 443, 1000) == io::ok);
    CHECK(f.error().ok());
    CHECK(f.connected());
  }
}

TEST_CASE("fake transport: fault_on_connect counts connect calls") {
  kom::testing::fake_transport f;
  f.fault_on_connect(2, fake_fault::refuse);
  f.fault_on_connect(3, fake_fault::time_out);
  CHECK(f.connect("h", 1, 1) == io::ok);
  CHECK(send_text(f, "abc") == 3);  // other calls do not count
  f.close();
  CHECK(f.connect("h", 1, 1) == io::refused);
  CHECK(f.error().detail() == 3);  // detail: the call's number among all operations
  CHECK(f.connect("h", 1, 1) == io::timed_out);
  CHECK(f.connect("h", 1, 1) == io::ok);
  CHECK(f.connect_calls() == 4);
  CHECK(f.connects() == 2);

  SUBCASE("fault_at wins over fault_on_connect for the same call") {
    kom::testing::fake_transport g;
    g.fault_on_connect(1, fake_fault::refuse);
    g.fault_at(1, fake_fault::unresolved);
    CHECK(g.connect("h", 1, 1) == io::unresolved);
    CHECK(g.connect("h", 1, 1) == io::ok);
  }
}

TEST_CASE("fake transport: every fault on send") {
  struct expectation {
    fake_fault fault;
    int result;
    errc code;
    bool still_connected;
  };
  const expectation cases[] = {
      {fake_fault::refuse, io::refused, errc::connect_failed, true},
      {fake_fault::unresolved, io::unresolved, errc::resolve_failed, true},
      {fake_fault::time_out, io::timed_out, errc::timed_out, true},
      {fake_fault::would_block, io::would_block, errc::ok, true},
      {fake_fault::reset, io::closed, errc::connection_closed, false},
      {fake_fault::eof, io::closed, errc::connection_closed, false},
      {fake_fault::fail, io::failed, errc::io_failed, true},
  };
  for (const expectation& c : cases) {
    CAPTURE(static_cast<int>(c.fault));
    kom::testing::fake_transport f;
    REQUIRE(f.connect("h", 1, 1) == io::ok);
    f.reply("unread");
    f.fault_at(2, c.fault);
    CHECK(send_text(f, "GET") == c.result);
    CHECK(f.sent().empty());  // nothing moved
    CHECK(f.connected() == c.still_connected);
    CHECK(f.error().code() == c.code);
    CHECK(f.error().detail() == (c.code == errc::ok ? 0 : 2));
    if (c.still_connected) {
      CHECK(f.pending_reply() == "unread");
      CHECK(send_text(f, "GET") == 3);
      CHECK(f.sent() == "GET");
    } else {
      CHECK(f.pending_reply().empty());  // a lost connection drops what was not read
      CHECK(send_text(f, "GET") == io::closed);
      f.close();
      CHECK(f.closes() == 1);  // the client's close still counts
      CHECK(f.connect("h", 1, 1) == io::ok);
      CHECK(send_text(f, "GET") == 3);
    }
  }
}

TEST_CASE("fake transport: every fault on recv") {
  struct expectation {
    fake_fault fault;
    int result;
    errc code;
    bool still_connected;
  };
  const expectation cases[] = {
      {fake_fault::refuse, io::refused, errc::connect_failed, true},
      {fake_fault::unresolved, io::unresolved, errc::resolve_failed, true},
      {fake_fault::time_out, io::timed_out, errc::timed_out, true},
      {fake_fault::would_block, io::would_block, errc::ok, true},
      {fake_fault::reset, io::closed, errc::connection_closed, false},
      {fake_fault::eof, 0, errc::ok, false},
      {fake_fault::fail, io::failed, errc::io_failed, true},
  };
  for (const expectation& c : cases) {
    CAPTURE(static_cast<int>(c.fault));
    kom::testing::fake_transport f;
    REQUIRE(f.connect("h", 1, 1) == io::ok);
    f.reply("answer");
    f.fault_at(2, c.fault);
    std::string got;
    CHECK(recv_text(f, &got) == c.result);
    CHECK(got.empty());  // nothing moved
    CHECK(f.connected() == c.still_connected);
    CHECK(f.error().code() == c.code);
    CHECK(f.error().detail() == (c.code == errc::ok ? 0 : 2));
    if (c.still_connected) {
      CHECK(recv_text(f, &got) == 6);  // the queued answer is still there
      CHECK(got == "answer");
    } else {
      CHECK(f.pending_reply().empty());
      CHECK(recv_text(f, &got) == io::closed);
      CHECK(send_text(f, "x") == io::closed);
    }
  }
}

TEST_CASE("fake transport: several faults, replaced, removed and too many") {
  kom::testing::fake_transport f;
  f.fault_at(2, fake_fault::would_block);
  f.fault_at(3, fake_fault::fail);
  f.fault_at(5, fake_fault::reset);
  f.fault_at(3, fake_fault::time_out);  // replaces the fail
  f.fault_at(4, fake_fault::eof);
  f.fault_at(4, fake_fault::none);      // removed
  f.fault_at(0, fake_fault::fail);      // op 0 never happens
  CHECK(f.dropped_faults() == 0);

  REQUIRE(f.connect("h", 1, 1) == io::ok);  // 1
  CHECK(send_text(f, "a") == io::would_block);  // 2
  CHECK(send_text(f, "a") == io::timed_out);  // 3
  CHECK(send_text(f, "a") == 1);  // 4
  std::string got;
  CHECK(recv_text(f, &got) == io::closed);  // 5
  CHECK(f.operations() == 5);

  SUBCASE("at least 16, up to max_faults, are kept; more are counted as dropped") {
    kom::testing::fake_transport g;
    REQUIRE(kom::testing::fake_transport::max_faults >= 16);
    for (std::size_t op = 2; op < 2 + kom::testing::fake_transport::max_faults; ++op) g.fault_at(op, fake_fault::time_out);
    CHECK(g.dropped_faults() == 0);
    g.fault_at(1000, fake_fault::fail);
    CHECK(g.dropped_faults() == 1);
    g.fault_on_connect(1, fake_fault::refuse);  // the connect table is separate
    CHECK(g.dropped_faults() == 1);
    CHECK(g.connect("h", 1, 1) == io::refused);
    for (std::size_t i = 0; i < kom::testing::fake_transport::max_faults; ++i) CHECK(send_text(g, "a") == io::timed_out);
    CHECK(g.operations() == 1 + kom::testing::fake_transport::max_faults);
    CHECK(g.connect("h", 1, 1) == io::ok);
    for (int i = 0; i < 2000 && g.operations() < 1000; ++i) CHECK(send_text(g, "a") == 1);
    CHECK(g.operations() == 1000);
    CHECK(send_text(g, "a") == 1);  // op 1001; 1000 had no fault kept
  }
}

TEST_CASE("fake transport: max_io makes I/O partial") {
  kom::testing::fake_transport f;
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  f.max_io(3);
  CHECK(send_text(f, "abcdefg") == 3);
  CHECK(f.sent() == "abc");
  f.reply("0123456");
  std::string got;
  CHECK(recv_text(f, &got) == 3);
  CHECK(got == "012");
  CHECK(recv_text(f, &got, 2) == 2);  // the caller's size is smaller still
  CHECK(got == "34");
  CHECK(recv_text(f, &got) == 2);     // what is left
  CHECK(got == "56");
  f.max_io(0);  // unlimited again
  CHECK(send_text(f, "defg") == 4);
  CHECK(f.sent() == "abcdefg");
}

TEST_CASE("fake transport: block_every puts would_block before every k-th send or recv") {
  kom::testing::fake_transport f;
  REQUIRE(f.connect("h", 1, 1) == io::ok);

  SUBCASE("k = 1: every transfer is blocked once first") {
    f.block_every(1);
    CHECK(send_text(f, "a") == io::would_block);
    CHECK(f.sent().empty());
    CHECK(send_text(f, "a") == 1);
    f.reply("z");
    std::string got;
    CHECK(recv_text(f, &got) == io::would_block);
    CHECK(f.pending_reply() == "z");
    CHECK(recv_text(f, &got) == 1);
    CHECK(f.error().ok());  // would_block is not a failure
  }
  SUBCASE("k = 3") {
    f.block_every(3);
    std::vector<int> results;
    for (int i = 0; i < 8; ++i) results.push_back(send_text(f, "a"));
    CHECK(results == std::vector<int>{1, 1, io::would_block, 1, 1, 1, io::would_block, 1});
    CHECK(f.sent() == "aaaaaa");
  }
  SUBCASE("0 turns it off") {
    f.block_every(1);
    CHECK(send_text(f, "a") == io::would_block);
    f.block_every(0);
    for (int i = 0; i < 5; ++i) CHECK(send_text(f, "a") == 1);
  }
  CHECK(f.connect_calls() == 1);  // connect is never blocked by it
}

TEST_CASE("fake transport: stall_recv makes a server that stopped answering") {
  kom::testing::fake_transport f;
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  f.reply("answer");
  f.stall_recv();
  std::string got;
  CHECK(recv_text(f, &got) == io::timed_out);
  CHECK(f.error().code() == errc::timed_out);
  CHECK(recv_text(f, &got) == io::timed_out);
  CHECK(send_text(f, "still sends") == 11);

  // It lasts across reconnects.
  f.close();
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  f.reply("again");
  CHECK(recv_text(f, &got) == io::timed_out);

  f.resume_recv();
  CHECK(recv_text(f, &got) == 5);
  CHECK(got == "again");

  f.stall_recv();
  f.reset();
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  f.reply("fresh");
  CHECK(recv_text(f, &got) == 5);
}

TEST_CASE("fake transport: the responder gets each complete request") {
  kom::testing::fake_transport f;
  recording_server server;
  f.set_responder(recording_server::respond, &server);
  REQUIRE(f.connect("h", 1, 1) == io::ok);

  SUBCASE("a request without a body, then one with") {
    CHECK(send_text(f, get_request) == static_cast<int>(get_request.size()));
    REQUIRE(server.requests.size() == 1);
    CHECK(server.requests[0] == get_request);
    CHECK(f.last_request() == get_request);
    CHECK(send_text(f, post_request) == static_cast<int>(post_request.size()));
    REQUIRE(server.requests.size() == 2);
    CHECK(server.requests[1] == post_request);
    CHECK(f.requests() == 2);
    CHECK(f.last_request() == post_request);
    std::string got;
    CHECK(recv_text(f, &got) == 54);
    CHECK(got == server.answer + server.answer);
  }
  SUBCASE("the head and the body in pieces: called once, after the last body byte") {
    f.max_io(1);
    std::string_view rest = post_request;
    while (!rest.empty()) {
      CHECK(server.requests.empty());
      const int n = send_text(f, rest);
      REQUIRE(n == 1);
      rest.remove_prefix(1);
    }
    REQUIRE(server.requests.size() == 1);
    CHECK(server.requests[0] == post_request);
    CHECK(server.sent_when_called[0] == post_request.size());
  }
  SUBCASE("the body sent in a separate call") {
    const std::size_t head = post_request.find("\r\n\r\n") + 4;
    CHECK(send_text(f, post_request.substr(0, head)) == static_cast<int>(head));
    CHECK(server.requests.empty());
    CHECK(send_text(f, post_request.substr(head, 4)) == 4);
    CHECK(server.requests.empty());
    CHECK(send_text(f, post_request.substr(head + 4)) == 7);
    REQUIRE(server.requests.size() == 1);
    CHECK(server.requests[0] == post_request);
  }
  SUBCASE("two requests in one send") {
    const std::string both = std::string(post_request) + std::string(get_request);
    CHECK(send_text(f, both) == static_cast<int>(both.size()));
    REQUIRE(server.requests.size() == 2);
    CHECK(server.requests[0] == post_request);
    CHECK(server.requests[1] == get_request);
  }
  SUBCASE("Content-Length in any case, with spaces") {
    const std::string_view odd = "PUT /x HTTP/1.1\r\ncontent-LENGTH:   3 \r\n\r\nabc";
    CHECK(send_text(f, odd.substr(0, odd.size() - 1)) == static_cast<int>(odd.size() - 1));
    CHECK(server.requests.empty());
    CHECK(send_text(f, "c") == 1);
    REQUIRE(server.requests.size() == 1);
    CHECK(server.requests[0] == odd);
  }
  SUBCASE("a head that only looks like it ends: CR CR LF CR LF") {
    CHECK(send_text(f, "GET / HTTP/1.1\r\nA: b\r\r\n") == 23);
    CHECK(server.requests.empty());
    CHECK(send_text(f, "\r\n") == 2);
    CHECK(server.requests.size() == 1);
  }
  SUBCASE("a Content-Length that is not a number counts as no body") {
    CHECK(send_text(f, "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n") == 39);
    CHECK(server.requests.size() == 1);
    CHECK(send_text(f, "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n") == 60);
    CHECK(server.requests.size() == 2);
  }
  SUBCASE("a lost connection starts the next request afresh") {
    CHECK(send_text(f, post_request.substr(0, 20)) == 20);
    f.fault_at(f.operations() + 1, fake_fault::reset);
    CHECK(send_text(f, "x") == io::closed);
    f.close();
    REQUIRE(f.connect("h", 1, 1) == io::ok);
    CHECK(send_text(f, post_request) == static_cast<int>(post_request.size()));
    REQUIRE(server.requests.size() == 1);
    CHECK(server.requests[0] == post_request);
  }
  SUBCASE("no responder: requests are still counted") {
    f.set_responder(nullptr, nullptr);
    CHECK(send_text(f, get_request) == static_cast<int>(get_request.size()));
    CHECK(f.requests() == 1);
    CHECK(server.requests.empty());
    CHECK(f.pending_reply().empty());
  }
}

TEST_CASE("fake transport: close_after_reply") {
  kom::testing::fake_transport f;
  recording_server server;
  server.close_after = true;
  f.set_responder(recording_server::respond, &server);
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  REQUIRE(send_text(f, get_request) == static_cast<int>(get_request.size()));

  SUBCASE("the queued bytes, then 0 and the connection is down") {
    std::string got;
    CHECK(recv_text(f, &got, 10) == 10);
    CHECK(f.connected());
    CHECK(recv_text(f, &got) == 17);
    CHECK(f.connected());
    CHECK(recv_text(f, &got) == 0);
    CHECK_FALSE(f.connected());
    CHECK(f.error().ok());  // an orderly close is not a failure
    CHECK(recv_text(f, &got) == io::closed);
    CHECK(send_text(f, "x") == io::closed);
    f.close();
    CHECK(f.closes() == 1);
  }
  SUBCASE("closing first cancels it") {
    f.close();
    CHECK(f.pending_reply().empty());
    REQUIRE(f.connect("h", 1, 1) == io::ok);
    std::string got;
    CHECK(recv_text(f, &got) == io::timed_out);
    CHECK(f.connected());
  }
  SUBCASE("without a responder, and before connect") {
    kom::testing::fake_transport g;
    g.reply("only");
    g.close_after_reply();
    g.close();  // not connected: keeps what waits for the connection
    REQUIRE(g.connect("h", 1, 1) == io::ok);
    std::string got;
    CHECK(recv_text(g, &got) == 4);
    CHECK(recv_text(g, &got) == 0);
    CHECK_FALSE(g.connected());
  }
}

TEST_CASE("fake transport: the sent log") {
  kom::testing::fake_transport f;
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  CHECK(send_text(f, "one ") == 4);
  f.close();
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  CHECK(send_text(f, "two") == 3);
  CHECK(f.sent() == "one two");  // across connections, in order

  SUBCASE("bounded: overflow is a flag") {
    kom::testing::basic_fake_transport<8, 8, 8> small;
    REQUIRE(small.connect("h", 1, 1) == io::ok);
    const unsigned char bytes[] = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'};
    CHECK(small.send(bytes, 6) == 6);
    CHECK_FALSE(small.sent_overflow());
    CHECK(small.send(bytes, 4) == 4);  // sent in full; only 2 kept
    CHECK(small.sent() == "01234501");
    CHECK(small.sent_overflow());
  }
}

TEST_CASE("fake transport: reply queue and request capacities") {
  kom::testing::basic_fake_transport<64, 8, 16> small;
  REQUIRE(small.connect("h", 1, 1) == io::ok);

  SUBCASE("a reply beyond the queue is cut and flagged") {
    small.reply("0123456789");
    CHECK(small.reply_overflow());
    CHECK(small.pending_reply() == "01234567");
  }
  SUBCASE("read bytes make room again") {
    small.reply("012345");
    unsigned char buf[4];
    CHECK(small.recv(buf, 4, 0) == 4);
    small.reply("abcdef");  // 2 unread + 6 = 8 fit
    CHECK_FALSE(small.reply_overflow());
    CHECK(small.pending_reply() == "45abcdef");
  }
  SUBCASE("a request longer than MaxRequest: framed in full, its first bytes kept") {
    struct seen {
      std::string request;
      static void respond(void* c, kom::testing::basic_fake_transport<64, 8, 16>&, std::string_view r) {
        static_cast<seen*>(c)->request = std::string(r);
      }
    } s;
    small.set_responder(seen::respond, &s);
    const std::string_view request = "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
    CHECK(small.send(reinterpret_cast<const unsigned char*>(request.data()), request.size()) ==
          static_cast<int>(request.size()));
    CHECK(small.requests() == 1);
    CHECK(small.request_overflow());
    CHECK(s.request == request.substr(0, 16));
    CHECK(small.last_request() == request.substr(0, 16));
  }
}

TEST_CASE("fake transport: calls that break the transport contract") {
  kom::testing::fake_transport f;
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  CHECK(f.connect("h", 1, 1) == io::failed);  // connect while connected
  CHECK(f.error().code() == errc::io_failed);
  CHECK(f.connected());
  unsigned char buf[4] = {};
  CHECK(f.send(buf, 0) == io::failed);
  CHECK(f.send(nullptr, 4) == io::failed);
  CHECK(f.recv(buf, 0, 10) == io::failed);
  CHECK(f.recv(nullptr, 4, 10) == io::failed);
  CHECK(f.contract_violations() == 5);
  CHECK(f.sent().empty());

  // After a reset the client must still close before connecting again.
  f.fault_at(f.operations() + 1, fake_fault::reset);
  CHECK(f.send(buf, 1) == io::closed);
  CHECK(f.connect("h", 1, 1) == io::failed);
  CHECK(f.contract_violations() == 6);
  f.close();
  CHECK(f.connect("h", 1, 1) == io::ok);
}

TEST_CASE("fake transport: through kom::transport") {
  kom::testing::fake_transport f;
  kom::transport t = f.transport();
  CHECK(t.context == &f);
  f.fault_on_connect(1, fake_fault::refuse);
  CHECK(t.connect(t.context, "h", 443, 10) == io::refused);
  const kom::error e = kom::transport_error(t, io::refused);
  CHECK(e.code() == errc::connect_failed);
  CHECK(e.detail() == 1);
  REQUIRE(t.connect(t.context, "h", 443, 10) == io::ok);
  CHECK(t.error(t.context).ok());
  const unsigned char ping[] = {'p', 'i', 'n', 'g'};
  CHECK(t.send(t.context, ping, sizeof ping) == 4);
  f.reply("pong");
  unsigned char buf[8] = {};
  CHECK(t.recv(t.context, buf, sizeof buf, 100) == 4);
  CHECK(t.recv(t.context, buf, sizeof buf, 100) == io::timed_out);
  CHECK(kom::transport_error(t, io::timed_out).code() == errc::timed_out);
  t.close(t.context);
  CHECK(f.closes() == 1);
  CHECK_FALSE(f.connected());
}

TEST_CASE("fake transport: reset() starts over") {
  kom::testing::fake_transport f;
  recording_server server;
  f.set_responder(recording_server::respond, &server);
  f.fault_at(9, fake_fault::fail);
  f.fault_on_connect(2, fake_fault::refuse);
  f.max_io(1);
  f.block_every(2);
  f.stall_recv();
  REQUIRE(f.connect("h", 1, 1) == io::ok);
  CHECK(send_text(f, "abc") == 1);
  f.reply("x");

  f.reset();
  CHECK(f.operations() == 0);
  CHECK(f.connects() == 0);
  CHECK(f.connect_calls() == 0);
  CHECK(f.sent().empty());
  CHECK(f.pending_reply().empty());
  CHECK_FALSE(f.connected());
  CHECK(f.last_host().empty());
  CHECK(f.error().ok());

  REQUIRE(f.connect("h", 1, 1) == io::ok);
  f.close();
  REQUIRE(f.connect("h", 1, 1) == io::ok);  // the connect fault is gone
  CHECK(send_text(f, get_request) == static_cast<int>(get_request.size()));  // no max_io, no blocking
  CHECK(server.requests.empty());  // no responder
  for (int i = 0; i < 10; ++i) CHECK(send_text(f, "a") == 1);  // no fault at 9
}

TEST_CASE("fake transport: long host names are cut, not overrun") {
  kom::testing::fake_transport f;
  const std::string host(1000, 'h');
  REQUIRE(f.connect(host, 1, 1) == io::ok);
  CHECK(f.last_host() == std::string(kom::testing::fake_transport::max_host, 'h'));
}

TEST_CASE("fake transport: does not allocate") {
  kom::testing::fake_transport f;
  recording_server server;  // allocates, but only when it is called
  server.answer.clear();
  const unsigned char bytes[] = {'a', 'b', 'c'};
  unsigned char buf[8];
  kom_test::alloc_scope scope;
  f.fault_at(4, fake_fault::reset);
  f.max_io(2);
  int results[6] = {};
  results[0] = f.connect("h", 1, 1);
  results[1] = f.send(bytes, sizeof bytes);
  f.reply("xyz");
  results[2] = f.recv(buf, sizeof buf, 1);
  results[3] = f.recv(buf, sizeof buf, 1);
  f.close();
  results[4] = f.connect("h", 1, 1);
  results[5] = f.recv(buf, sizeof buf, 1);
  CHECK(scope.count() == 0);
  CHECK(results[0] == io::ok);
  CHECK(results[1] == 2);
  CHECK(results[2] == 2);
  CHECK(results[3] == io::closed);
  CHECK(results[4] == io::ok);
  CHECK(results[5] == io::timed_out);
}
