// Human output helpers; see format.h.
#include "cli/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "senderwatch/units.h"
#include "senderwatch/utf8.h"

namespace senderwatch::cli {
namespace {

std::string_view AnsiStart(Style style) {
  switch (style) {
    case Style::kPlain:
      return "";
    case Style::kBold:
      return "\x1b[1m";
    case Style::kDim:
      return "\x1b[2m";
    case Style::kRed:
      return "\x1b[31m";
    case Style::kYellow:
      return "\x1b[33m";
    case Style::kGreen:
      return "\x1b[32m";
    case Style::kBoldRed:
      return "\x1b[1;31m";
  }
  return "";
}

void AppendHexEscape(std::string& out, unsigned char byte) {
  out += fmt::format("\\x{:02x}", byte);
}


}  // namespace

bool DecideColor(std::string_view flag, bool stdout_is_tty, const char* no_color_env,
                 const char* term_env) {
  if (flag == "always") return true;
  if (flag == "never") return false;
  if (!flag.empty() && flag != "auto") return false;
  if (no_color_env != nullptr && no_color_env[0] != '\0') return false;
  if (term_env != nullptr && std::string_view(term_env) == "dumb") return false;
  return stdout_is_tty;
}

std::string Paint(std::string_view text, Style style, bool color) {
  if (!color || style == Style::kPlain || text.empty()) return std::string(text);
  std::string out(AnsiStart(style));
  out += text;
  out += "\x1b[0m";
  return out;
}

std::string SanitizeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t code = 0;
    const size_t length = Utf8SequenceLength(text, i, &code);
    if (length == 0) {
      AppendHexEscape(out, static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (code < 0x20 || code == 0x7f) {
      AppendHexEscape(out, static_cast<unsigned char>(code));
    } else if (code >= 0x80 && code <= 0x9f) {  // C1 controls (CSI is U+009B)
      for (size_t k = 0; k < length; ++k)
        AppendHexEscape(out, static_cast<unsigned char>(text[i + k]));
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

std::string ShellQuote(std::string_view text) {
  const auto safe = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
  };
  if (!text.empty() && std::all_of(text.begin(), text.end(), safe)) return std::string(text);
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xc0) != 0x80) ++width;  // count lead bytes only
  }
  return width;
}

std::string HumanDuration(int64_t seconds) {
  uint64_t s =
      seconds < 0 ? static_cast<uint64_t>(-(seconds + 1)) + 1 : static_cast<uint64_t>(seconds);
  struct Unit {
    uint64_t seconds;
    char name;
  };
  static constexpr Unit kUnits[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  if (s < 60) return std::to_string(s) + "s";
  for (size_t u = 0; u < std::size(kUnits); ++u) {
    if (s < kUnits[u].seconds) continue;
    const uint64_t major = s / kUnits[u].seconds;
    std::string out = std::to_string(major) + kUnits[u].name;
    // The second unit only while the first is small enough for it to matter.
    if (major < 10 && u + 1 < std::size(kUnits) && kUnits[u + 1].seconds >= 60) {
      const uint64_t minor = (s % kUnits[u].seconds) / kUnits[u + 1].seconds;
      if (minor > 0) out += std::to_string(minor) + kUnits[u + 1].name;
    }
    return out;
  }
  return "0s";
}

std::string FormatAgo(UnixSeconds when, UnixSeconds now) {
  if (when == 0) return "never";
  const int64_t delta = now - when;
  if (delta > -5 && delta < 5) return "just now";
  if (delta > 0) return HumanDuration(delta) + " ago";
  return "in " + HumanDuration(-delta);
}

std::string FormatMinuteAgo(uint32_t minute, UnixSeconds now) {
  if (minute == 0) return "never";
  const int64_t delta = now / 60 - static_cast<int64_t>(minute);
  if (delta == 0) return "this minute";
  if (delta > 0) return HumanDuration(delta * 60) + " ago";
  return "in " + HumanDuration(-delta * 60);
}

std::string FormatTimeAndAgo(UnixSeconds when, UnixSeconds now) {
  if (when == 0) return "never";
  return FormatTime(when) + " (" + FormatAgo(when, now) + ")";
}

std::string FormatNumber(double value) {
  if (!std::isfinite(value)) return value > 0 ? "inf" : (value < 0 ? "-inf" : "nan");
  if (value == std::trunc(value) && std::fabs(value) < 1e15) return fmt::format("{:.0f}", value);
  std::string out = fmt::format("{:.3f}", value);
  while (!out.empty() && out.back() == '0') out.pop_back();
  if (!out.empty() && out.back() == '.') out.pop_back();
  if (out == "-0") out = "0";
  return out;
}

std::string FormatMetricValue(Metric metric, double value) {
  if (metric == Metric::kBounceRatio) {
    return fmt::format("{:.2f}", value);
  }
  return FormatNumber(value);
}

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Plural(uint64_t count, std::string_view noun) {
  std::string out = std::to_string(count) + " " + std::string(noun);
  if (count != 1) out += "s";
  return out;
}

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string FormatPercent(double ratio) {
  if (std::isnan(ratio)) return "-";
  if (ratio * 100.0 > 999.0) return ">999%";
  return fmt::format("{:.0f}%", std::max(0.0, ratio * 100.0));
}

Table::Table(std::vector<std::string> headers, std::vector<Align> align)
    : headers_(std::move(headers)), align_(std::move(align)) {
  align_.resize(headers_.size(), Align::kLeft);
}

void Table::AddRow(std::vector<Cell> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render(bool color, size_t indent) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) widths[c] = DisplayWidth(headers_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max(widths[c], DisplayWidth(row[c].text));
  }
  const std::string margin(indent, ' ');
  std::string out;
  const auto line = [&](const std::vector<Cell>& cells) {
    std::string text = margin;
    for (size_t c = 0; c < cells.size(); ++c) {
      const Cell& cell = cells[c];
      const size_t have = DisplayWidth(cell.text);
      const std::string pad(widths[c] > have ? widths[c] - have : 0, ' ');
      const bool last = c + 1 == cells.size();
      if (c > 0) text += "  ";
      // Colour only the text, never the padding, so widths stay exact.
      if (align_[c] == Align::kRight) text += pad;
      text += Paint(cell.text, cell.style, color);
      if (align_[c] == Align::kLeft && !last) text += pad;
    }
    while (text.size() > margin.size() && text.back() == ' ') text.pop_back();
    out += text;
    out += '\n';
  };
  std::vector<Cell> header_cells;
  for (const auto& h : headers_) header_cells.push_back(Cell{h, Style::kBold});
  line(header_cells);
  for (const auto& row : rows_) line(row);
  return out;
}

void KeyValueList::Add(std::string key, std::string value, Style style) {
  items_.push_back(Item{std::move(key), std::move(value), style});
}

std::string KeyValueList::Render(bool color, size_t indent) const {
  size_t width = 0;
  for (const auto& item : items_) width = std::max(width, DisplayWidth(item.key));
  std::string out;
  for (const auto& item : items_) {
    out.append(indent, ' ');
    out += item.key;
    out.append(width - DisplayWidth(item.key) + 2, ' ');
    out += Paint(item.value, item.style, color);
    out += '\n';
  }
  return out;
}

}  // namespace senderwatch::cli
