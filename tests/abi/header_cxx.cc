// Compiled (not linked) by the abi tests with -std=c++20 -pedantic -Wall -Wextra -Werror: ntm.h
// must be usable from C++ (extern "C", no C-only constructs), self-contained and guarded.
#include <ntm.h>
#include <ntm.h>

#include <type_traits>

static_assert(std::is_same_v<decltype(&ntm_socket), int (*)(int, int, int)>);
static_assert(std::is_same_v<decltype(&ntm_send), ssize_t (*)(int, const void *, size_t, int)>);
static_assert(std::is_same_v<decltype(&ntm_start), int (*)(const ntm_options *)>);
static_assert(std::is_standard_layout_v<ntm_options> && std::is_trivially_copyable_v<ntm_options>);
static_assert(std::is_standard_layout_v<ntm_tunnel_info>);
static_assert(NTM_KEY_TEXT_SIZE == 45);

int ntm_header_cxx_probe();

int ntm_header_cxx_probe() {
  ntm_options options{};
  ntm_static_peer peer{};
  ntm_event_cb cb = [](const ntm_event *event, void *user_data) {
    *static_cast<int *>(user_data) += static_cast<int>(event->type);
  };
  int counter = 0;
  options.event_cb = cb;
  options.event_user_data = &counter;
  options.peers = &peer;
  options.peer_count = 1;
  return ntm_options_init(&options, NTM_OPTIONS_VERSION) + ntm_static_peer_init(&peer, 1) +
         ntm_start(&options);
}
