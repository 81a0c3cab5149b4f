/* Linked into the config fuzz targets: replaces the C library's getaddrinfo() with one that
 * accepts numeric addresses only, so a fuzzed "host.name:port" never sends a DNS query (fuzzers
 * stay off the network). The executable's definition wins over libc's and over the sanitizers'
 * weak interceptor; the real function is found with dlsym(RTLD_NEXT). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stddef.h>
#include <string.h>

typedef int (*getaddrinfo_fn)(const char*, const char*, const struct addrinfo*,
                              struct addrinfo**);

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** res) {
  static getaddrinfo_fn real = NULL;
  if (real == NULL) {
    void* symbol = dlsym(RTLD_NEXT, "getaddrinfo");
    memcpy(&real, &symbol, sizeof real); /* ISO C has no object-to-function pointer cast */
  }
  if (real == NULL) return EAI_FAIL;
  struct addrinfo numeric = {0};
  if (hints != NULL) numeric = *hints;
  numeric.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
  return real(node, service, &numeric, res);
}
