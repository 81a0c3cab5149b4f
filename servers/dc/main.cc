// ntm-dc: the Direction Coordinator alone, for split deployments (keys shared through the state
// directory's files; see servers/aio/server_app.h for the command line).
#include "aio/server_app.h"

int main(int argc, char** argv) {
  return ntm::servers::cli_main(argc, argv, {.as = false, .dc = true, .rs = false}, "ntm-dc");
}
