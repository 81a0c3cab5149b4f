// ntm-server: the all-in-one AS + DC + RS (see server_app.h for the command line).
#include "aio/server_app.h"

int main(int argc, char** argv) {
  return ntm::servers::cli_main(argc, argv, {.as = true, .dc = true, .rs = true}, "ntm-server");
}
