// Each cmd_<verb>.cc registers its subcommand on the CLI11 app; the action
// runs after parsing and sets the exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "app.h"

namespace mx::storecli {

struct Globals {
  std::string config;  // --config
  bool json = false;   // --json
  int exit_code = 0;
};

/// Loads the config named by the globals and runs `fn`; a failure is printed
/// and becomes g.exit_code.
void RunWithConfig(Globals& g, const std::function<Status(const StoreConfig&)>& fn);

void RegisterInit(CLI::App& app, Globals& g);
void RegisterServe(CLI::App& app, Globals& g);
void RegisterDb(CLI::App& app, Globals& g);
void RegisterMailbox(CLI::App& app, Globals& g);
void RegisterUser(CLI::App& app, Globals& g);
void RegisterFolder(CLI::App& app, Globals& g);

}  // namespace mx::storecli
