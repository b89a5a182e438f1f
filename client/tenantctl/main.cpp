// tenantctl: see cli.h for exit codes and client/README.md for the commands.
#include "tenantctl/cli.h"

int main(int argc, char** argv) {
  return tenantd::ctl::run(argc, argv, std::cout, std::cerr, std::cin);
}
