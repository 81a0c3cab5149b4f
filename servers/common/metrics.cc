#include "common/metrics.h"

namespace ntm::servers {

const char* reason_name(DcDrop r) {
  switch (r) {
    case DcDrop::malformed: return "malformed";
    case DcDrop::unknown_node: return "unknown_node";
    case DcDrop::bad_ticket: return "bad_ticket";
    case DcDrop::replayed_ticket: return "replayed_ticket";
    case DcDrop::bad_auth: return "bad_auth";
    case DcDrop::unexpected: return "unexpected";
    case DcDrop::busy: return "busy";
    case DcDrop::no_challenge: return "no_challenge";
    case DcDrop::replayed_register: return "replayed_register";
    case DcDrop::rate_limited: return "rate_limited";
    case DcDrop::denied: return "denied";
    case DcDrop::count_: break;
  }
  return "unknown";
}

const char* reason_name(RsDrop r) {
  switch (r) {
    case RsDrop::malformed: return "malformed";
    case RsDrop::not_relayable: return "not_relayable";
    case RsDrop::bad_token: return "bad_token";
    case RsDrop::table_full: return "table_full";
    case RsDrop::third_node: return "third_node";
    case RsDrop::bad_cookie: return "bad_cookie";
    case RsDrop::replayed_bind: return "replayed_bind";
    case RsDrop::count_: break;
  }
  return "unknown";
}

const char* reason_name(AsLogin r) {
  switch (r) {
    case AsLogin::ok: return "ok";
    case AsLogin::bad_credentials: return "bad_credentials";
    case AsLogin::account_disabled: return "account_disabled";
    case AsLogin::rate_limited: return "rate_limited";
    case AsLogin::bad_request: return "bad_request";
    case AsLogin::server_error: return "server_error";
    case AsLogin::tls_failed: return "tls_failed";
    case AsLogin::overloaded: return "overloaded";
    case AsLogin::busy: return "busy";
    case AsLogin::timed_out: return "timed_out";
    case AsLogin::count_: break;
  }
  return "unknown";
}

}  // namespace ntm::servers
