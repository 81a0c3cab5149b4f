// Fuzz target "dns": the `ntm up` DNS responder's query parser and the response it builds from
// the query (cli/dns), which any local process can send datagrams to.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dns.h"
#include "fuzz_check.h"

using namespace ntm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  auto q = cli::parse_dns_query(in);
  if (!q) return 0;
  fuzz::check(q->question_end <= in.size() && q->name.size() <= 253, "question inside the query");
  const std::vector<std::vector<uint8_t>> addresses{{100, 64, 0, 3},
                                                    std::vector<uint8_t>(16, 0xfd)};
  auto response = cli::build_dns_response(in, *q, cli::kDnsNoError, addresses, 60);
  auto again = cli::parse_dns_query(response);
  fuzz::check(!again, "a response is not taken for a query");
  return 0;
}
