// Plain-text formatting for the bench report: numbers a human reads at a glance, and a table whose
// columns line up even with multi-byte UTF-8 (≥, ×, –). Pure functions.
#pragma once

#include <string>
#include <vector>

namespace basalt::tools::bench {

// Three significant figures or more, never an exponent, thousands grouped with ',':
// 0.0123, 1.23, 12.3, 123, 1,234, 1,234,567. Non-finite values print as "?".
std::string formatNumber(double value);
// "0.63×"
std::string formatRatio(double ratio);
// "12.3–15.1" (an en dash between the two)
std::string formatRange(double low, double high);

// Columns on screen taken by a UTF-8 string (one per code point; Basalt prints no wide glyphs).
size_t displayWidth(const std::string& text);

class TextTable {
 public:
  enum class Align { kLeft, kRight };
  // `columns` sets the header and each column's alignment.
  explicit TextTable(std::vector<std::pair<std::string, Align>> columns);
  // A row with fewer cells than columns is padded with empty cells; extra cells are a bug.
  void addRow(std::vector<std::string> cells);
  // Header, a rule of '-', then the rows; two spaces between columns, no trailing blanks.
  std::string render() const;

 private:
  std::vector<std::pair<std::string, Align>> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace basalt::tools::bench
