#include "tools/bench/format.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace basalt::tools::bench {
namespace {

std::string groupThousands(const std::string& digits) {
  std::string out;
  int n = static_cast<int>(digits.size());
  for (int i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

std::string formatNumber(double value) {
  if (!std::isfinite(value)) return "?";
  char buf[64];
  double magnitude = std::fabs(value);
  if (magnitude >= 999.5) {
    std::snprintf(buf, sizeof(buf), "%.0f", magnitude);
    return (value < 0 ? "-" : "") + groupThousands(buf);
  }
  if (magnitude >= 99.95) {
    std::snprintf(buf, sizeof(buf), "%.0f", value);
  } else if (magnitude >= 9.995) {
    std::snprintf(buf, sizeof(buf), "%.1f", value);
  } else if (magnitude >= 0.9995 || magnitude == 0) {
    std::snprintf(buf, sizeof(buf), "%.2f", value);
  } else {
    std::snprintf(buf, sizeof(buf), "%#.3g", value);
  }
  return buf;
}

std::string formatRatio(double ratio) {
  return formatNumber(ratio) + "×";
}

std::string formatRange(double low, double high) {
  return formatNumber(low) + "–" + formatNumber(high);
}

size_t displayWidth(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;  // count lead bytes, skip continuation bytes
  }
  return width;
}

TextTable::TextTable(std::vector<std::pair<std::string, Align>> columns)
    : columns_(std::move(columns)) {}

void TextTable::addRow(std::vector<std::string> cells) {
  if (cells.size() > columns_.size()) throw std::logic_error("TextTable row has too many cells");
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::render() const {
  std::vector<size_t> widths;
  for (const auto& [title, align] : columns_) widths.push_back(displayWidth(title));
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], displayWidth(row[i]));
  }
  auto renderLine = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string pad(widths[i] - displayWidth(cells[i]), ' ');
      if (i > 0) line += "  ";
      line += columns_[i].second == Align::kLeft ? cells[i] + pad : pad + cells[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  std::vector<std::string> header;
  size_t total = 0;
  for (size_t i = 0; i < columns_.size(); ++i) {
    header.push_back(columns_[i].first);
    total += widths[i] + (i > 0 ? 2 : 0);
  }
  std::string out = renderLine(header) + std::string(total, '-') + "\n";
  for (const auto& row : rows_) out += renderLine(row);
  return out;
}

}  // namespace basalt::tools::bench
