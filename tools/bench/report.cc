#include "tools/bench/report.h"

#include <algorithm>
#include <map>

#include "tools/bench/format.h"

namespace basalt::tools::bench {
namespace {

using Align = TextTable::Align;

// Numbered footnotes, one per distinct (row, side, text), listing the runs it happened in.
class Footnotes {
 public:
  // Returns the footnote's number.
  int add(const std::string& row, const std::string& side, const std::string& text, int run) {
    auto key = row + "\n" + side + "\n" + text;
    auto it = index_.find(key);
    if (it == index_.end()) {
      it = index_.emplace(key, static_cast<int>(notes_.size())).first;
      notes_.push_back({row, side, text, {}});
    }
    notes_[it->second].runs.push_back(run + 1);
    return it->second + 1;
  }
  std::string render() const {
    std::string out;
    for (size_t i = 0; i < notes_.size(); ++i) {
      const Note& n = notes_[i];
      std::string runs;
      for (int r : n.runs) runs += (runs.empty() ? "" : ",") + std::to_string(r);
      out += "[" + std::to_string(i + 1) + "] " + n.row + " (" + n.side + ", run" +
             (n.runs.size() > 1 ? "s " : " ") + runs + "): " + n.text + "\n";
    }
    return out;
  }

 private:
  struct Note {
    std::string row, side, text;
    std::vector<int> runs;
  };
  std::map<std::string, int> index_;
  std::vector<Note> notes_;
};

// The median and range cells of one side.
std::pair<std::string, std::string> sideCells(const std::string& row, const std::string& sideName,
                                              const SideResult& side, Footnotes& notes) {
  auto summary = summarize(side.samples);
  std::string median, range;
  if (summary) {
    median = formatNumber(summary->median);
    range = summary->count > 1 ? formatRange(summary->min, summary->max) : "";
  } else if (!side.notSupported.empty()) {
    median = "not supported";
  } else if (!side.errors.empty()) {
    median = "error";
  } else {
    median = "–";
  }
  std::vector<int> marks;  // footnote numbers, each once, in order
  auto mark = [&](int n) {
    if (std::find(marks.begin(), marks.end(), n) == marks.end()) marks.push_back(n);
  };
  for (const auto& [run, text] : side.errors) mark(notes.add(row, sideName, "ERROR " + text, run));
  for (const auto& [run, text] : side.notes) mark(notes.add(row, sideName, text, run));
  if (!side.notSupported.empty() && summary) {
    mark(notes.add(row, sideName, "not supported: " + side.notSupported, 0));
  }
  std::string list;
  for (int n : marks) list += (list.empty() ? "" : ",") + std::to_string(n);
  if (!list.empty()) median += " [" + list + "]";
  return {median, range};
}

}  // namespace

std::string verdictText(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kMiss:
      return "MISS";
    case Verdict::kNoData:
      return "no data";
    case Verdict::kNoTarget:
      return "";
  }
  return "";
}

std::string renderReport(const std::vector<MetricResult>& results, bool hasLocal) {
  TextTable table({{"workload", Align::kLeft},
                   {"unit", Align::kLeft},
                   {"Basalt", Align::kRight},
                   {"(min–max)", Align::kRight},
                   {"local", Align::kRight},
                   {"(min–max)", Align::kRight},
                   {"ratio", Align::kRight},
                   {"target", Align::kLeft},
                   {"result", Align::kLeft}});
  Footnotes notes;
  for (const auto& r : results) {
    auto [basalt, basaltRange] = sideCells(r.spec.name, "Basalt", r.basalt, notes);
    std::string local = "–", localRange;
    if (hasLocal) std::tie(local, localRange) = sideCells(r.spec.name, "local", r.local, notes);
    Judgement j = judge(r.spec, summarize(r.basalt.samples), summarize(r.local.samples));
    table.addRow({r.spec.name, r.spec.unit, basalt, basaltRange, local, localRange,
                  j.ratio ? formatRatio(*j.ratio) : "–", describeTarget(r.spec),
                  verdictText(j.verdict)});
  }
  std::string out = table.render();
  std::string footnotes = notes.render();
  if (!footnotes.empty()) out += "\n" + footnotes;
  return out;
}

}  // namespace basalt::tools::bench
