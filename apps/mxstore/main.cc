// mxstore: the mail information store daemon and its admin CLI.
#include <iostream>

#include "commands.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace mx::storecli;
  CLI::App app{"mxstore: mail store with RocksDB mailbox databases, LMTP delivery and an admin socket"};
  app.require_subcommand(1);
  app.fallthrough();  // --config and --json also after the subcommand
  Globals g;
  app.add_option("--config", g.config, "config file (default $MXSTORE_CONFIG or ./mxstore.toml)");
  app.add_flag("--json", g.json, "print JSON instead of tables");
  RegisterInit(app, g);
  RegisterServe(app, g);
  RegisterDb(app, g);
  RegisterMailbox(app, g);
  RegisterUser(app, g);
  RegisterFolder(app, g);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return g.exit_code;
}
