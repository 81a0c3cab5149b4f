#include <catch2/catch.hpp>

#include "node/event_queue.h"

using ntm::node::EventQueue;
using ntm::node::NodeEvent;

TEST_CASE("the event queue keeps the most recent events, also without a handler", "[node]") {
  EventQueue queue(nullptr);
  for (size_t i = 0; i < EventQueue::kRecentEvents + 10; ++i) {
    queue.post({NodeEvent::Type::tunnel_up, "peer" + std::to_string(i), "", "", 1, "up"});
  }
  const auto recent = queue.recent();
  REQUIRE(recent.size() == EventQueue::kRecentEvents);
  CHECK(recent.front().event.peer_name == "peer10");
  CHECK(recent.back().event.peer_name == "peer" + std::to_string(EventQueue::kRecentEvents + 9));
  CHECK(recent.front().time <= recent.back().time);
}
