// `cartgate option set|get|unset|list`: runtime policy stored in PostgreSQL. Values are
// validated here, on write; running workers pick them up through NOTIFY.
#include <iomanip>
#include <iostream>

#include "cli.h"
#include "policy/options.h"
#include "store/options.h"

namespace cartgate::cli {

void register_options(CLI::App& app, context& ctx) {
  auto* opt = app.add_subcommand("option", "Read and change runtime policy");
  opt->require_subcommand(1);

  static std::string key, value;
  auto* set = opt->add_subcommand("set", "Set KEY to VALUE (validated)");
  set->add_option("key", key)->required();
  set->add_option("value", value)->required();
  set->callback([&ctx] {
    std::string canonical;
    try {
      canonical = validate_option(key, value);
    } catch (const option_error& e) {
      throw cli_error(e.what());
    }
    pqxx::work w(ctx.db());
    stored_options::set(w, key, canonical);
    w.commit();
  });

  auto* get = opt->add_subcommand("get", "Print the value of KEY (its default when unset)");
  get->add_option("key", key)->required();
  get->callback([&ctx] {
    const option_def* def = find_option(key);
    if (!def) throw cli_error("unknown option '" + key + "'");
    pqxx::read_transaction t(ctx.db());
    auto value = stored_options::get(t, key);
    std::cout << (value ? *value : std::string(def->default_value)) << '\n';
  });

  auto* unset = opt->add_subcommand("unset", "Return KEY to its default");
  unset->add_option("key", key)->required();
  unset->callback([&ctx] {
    if (!find_option(key)) throw cli_error("unknown option '" + key + "'");
    pqxx::work w(ctx.db());
    stored_options::unset(w, key);
    w.commit();
  });

  auto* list = opt->add_subcommand("list", "Every option: key, value, whether set, meaning");
  list->callback([&ctx] {
    pqxx::read_transaction t(ctx.db());
    auto stored = stored_options::read_all(t);
    for (auto& d : option_table()) {
      std::string k(d.key);
      bool is_set = stored.count(k) > 0;
      std::string v = is_set ? stored[k] : std::string(d.default_value);
      std::cout << std::left << std::setw(30) << k << ' ' << std::setw(20) << (v.empty() ? "\"\"" : v)
                << ' ' << (is_set ? "set    " : "default") << "  " << d.doc << '\n';
    }
  });
}

}  // namespace cartgate::cli
