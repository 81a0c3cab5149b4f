// ntm-as: the Account Server alone, for split deployments (keys shared through the state
// directory's files; see servers/aio/server_app.h for the command line).
#include "aio/server_app.h"

int main(int argc, char** argv) {
  return ntm::servers::cli_main(argc, argv, {.as = true, .dc = false, .rs = false}, "ntm-as");
}
