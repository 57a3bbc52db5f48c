// Argument parsing for the verbs; see args.h.
#include "cli/args.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>

#include "cli/format.h"

namespace senderwatch::cli {
namespace {

constexpr OptionSpec kGlobalSpecs[] = {
    {"db", 0, true},    {"config", 0, true},    {"exim-config", 0, true}, {"json", 0, false},
    {"color", 0, true}, {"no-color", 0, false}, {"verbose", 'v', false},  {"help", 'h', false},
};

const OptionSpec* FindLong(std::span<const OptionSpec> specs, std::string_view name) {
  for (const auto& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const OptionSpec* FindShort(std::span<const OptionSpec> specs, char name) {
  for (const auto& spec : specs) {
    if (spec.short_name != 0 && spec.short_name == name) return &spec;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> ParsedArgs::Value(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::Values(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Result<ParsedArgs> ParseArgs(std::span<const std::string> args, std::span<const OptionSpec> specs) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      for (++i; i < args.size(); ++i) parsed.positional_.push_back(args[i]);
      break;
    }
    if (arg.size() > 2 && arg.starts_with("--")) {
      std::string_view body = std::string_view(arg).substr(2);
      std::optional<std::string> inline_value;
      if (const size_t eq = body.find('='); eq != std::string_view::npos) {
        inline_value = std::string(body.substr(eq + 1));
        body = body.substr(0, eq);
      }
      const OptionSpec* spec = FindLong(specs, body);
      if (spec == nullptr) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "unknown option '--" + std::string(body) + "'");
      }
      std::string value;
      if (spec->takes_value) {
        if (inline_value) {
          value = *inline_value;
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return MakeError(ErrorKind::kInvalidArgument,
                           "option '--" + std::string(body) + "' needs a value");
        }
      } else if (inline_value) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "option '--" + std::string(body) + "' takes no value");
      }
      parsed.values_[std::string(spec->name)].push_back(std::move(value));
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      // A cluster of short options: "-vn5" is -v -n 5.
      for (size_t k = 1; k < arg.size(); ++k) {
        const OptionSpec* spec = FindShort(specs, arg[k]);
        if (spec == nullptr) {
          return MakeError(ErrorKind::kInvalidArgument,
                           "unknown option '-" + std::string(1, arg[k]) + "'");
        }
        std::string value;
        if (spec->takes_value) {
          if (k + 1 < arg.size()) {
            value = arg.substr(k + 1);
          } else if (i + 1 < args.size()) {
            value = args[++i];
          } else {
            return MakeError(ErrorKind::kInvalidArgument,
                             "option '-" + std::string(1, arg[k]) + "' needs a value");
          }
          parsed.values_[std::string(spec->name)].push_back(std::move(value));
          break;
        }
        parsed.values_[std::string(spec->name)].push_back(std::move(value));
      }
      continue;
    }
    parsed.positional_.push_back(arg);
  }
  return parsed;
}

std::span<const OptionSpec> GlobalOptionSpecs() { return kGlobalSpecs; }

std::vector<OptionSpec> WithGlobalOptions(std::initializer_list<OptionSpec> verb_specs) {
  std::vector<OptionSpec> specs(verb_specs);
  specs.insert(specs.end(), std::begin(kGlobalSpecs), std::end(kGlobalSpecs));
  return specs;
}

Result<GlobalOptions> ApplyGlobalOptions(const GlobalOptions& base, const ParsedArgs& parsed) {
  GlobalOptions options = base;
  if (auto v = parsed.Value("db")) options.db = *v;
  if (auto v = parsed.Value("config")) options.config = *v;
  if (auto v = parsed.Value("exim-config")) options.exim_config = *v;
  if (parsed.Has("json")) options.json = true;
  if (parsed.Has("verbose")) options.verbose = true;
  if (auto v = parsed.Value("color")) {
    if (*v != "auto" && *v != "always" && *v != "never") {
      return MakeError(ErrorKind::kInvalidArgument,
                       "--color takes auto, always or never, not '" + *v + "'");
    }
    options.color =
        DecideColor(*v, isatty(STDOUT_FILENO) == 1, std::getenv("NO_COLOR"), std::getenv("TERM"));
  }
  if (parsed.Has("no-color")) options.color = false;
  return options;
}

Result<uint64_t> ParseCount(std::string_view option, std::string_view text) {
  uint64_t value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size()) {
    return MakeError(
        ErrorKind::kInvalidArgument,
        std::string(option) + " needs a non-negative number, not '" + std::string(text) + "'");
  }
  return value;
}

}  // namespace senderwatch::cli
