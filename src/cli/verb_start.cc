// The shared start of the verbs; see verb_start.h.
#include "cli/verb_start.h"

#include "cli/verbs.h"

namespace senderwatch::cli {

std::expected<VerbCall, int> StartVerb(std::string_view verb, std::string_view help,
                                       const GlobalOptions& base, std::span<const std::string> args,
                                       std::initializer_list<OptionSpec> specs,
                                       const Operands& operands) {
  auto parsed = ParseArgs(args, WithGlobalOptions(specs));
  if (!parsed) return std::unexpected(UsageError(verb, parsed.error().message));
  if (parsed->Has("help")) return std::unexpected(Emit(help));
  auto options = ApplyGlobalOptions(base, *parsed);
  if (!options) return std::unexpected(UsageError(verb, options.error().message));
  const std::vector<std::string>& given = parsed->positional();
  if (given.size() < operands.min) return std::unexpected(UsageError(verb, operands.missing));
  if (given.size() > operands.max) {
    return std::unexpected(UsageError(
        verb, operands.too_many.empty() ? "unexpected argument '" + given[operands.max] + "'"
                                        : std::string(operands.too_many)));
  }
  return VerbCall{verb, std::move(*parsed), std::move(*options)};
}

std::expected<std::unique_ptr<Context>, int> OpenVerbContext(const GlobalOptions& options,
                                                             OpenMode mode) {
  auto context = OpenContext(options, mode);
  if (!context) return std::unexpected(ReportError(context.error()));
  return std::move(*context);
}

}  // namespace senderwatch::cli
