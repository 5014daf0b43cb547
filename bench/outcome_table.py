"""The training-outcome table of docs/training-outcome-parity.md, made from bench/results/compare_training.json:
the bench rewrites it after every case, and a test checks that the page and the JSON agree."""
import statistics
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "training-outcome-parity.md"
BEGIN = "<!-- compare_training table: made by bench/compare_training.py from bench/results/compare_training.json -->"
END = "<!-- end of compare_training table -->"
HEADER = ("| config | start | MindSpore final val mIoU | PyTorch final val mIoU | difference | bound | verdict | "
          "CPU time MS/PT |\n|---|---|---|---|---|---|---|---|")


def score(finals):
    """mean ± sd (n) of the final mIoUs that exist."""
    if not finals:
        return "-"
    if len(finals) == 1:
        return f"{finals[0]:.4f} (1 seed)"
    return f"{statistics.mean(finals):.4f} ± {statistics.stdev(finals):.4f} ({len(finals)} seeds)"


def row(result):
    runs = result["runs"]
    finals = {framework: [run["final_val_miou"] for run in runs.get(framework, {}).values()]
              for framework in ("mindspore", "pytorch")}
    if result["complete"]:
        verdict = result["verdict"]
        frameworks = result["frameworks"]
        judged = (f"{abs(verdict['difference']):.4f} | {verdict['bound']:.4f} | "
                  f"{'PASS' if verdict['passed'] else 'FAIL'} | "
                  f"{frameworks['mindspore']['cpu_seconds'] / frameworks['pytorch']['cpu_seconds']:.2f}x")
    else:
        ended = sum(len(by_seed) for by_seed in runs.values())
        judged = f"- | - | {ended} of {2 * result['seeds_planned']} runs ended | -"
    return (f"| {result['config']} | {result['start']} | {score(finals['mindspore'])} | {score(finals['pytorch'])} | "
            f"{judged} |")


def table(results):
    """The markdown table (header and a row per case) with the date and machine it was measured on."""
    machine = results["machine"]
    rows = "\n".join(row(result) for result in results["cases"].values())
    return (f"Measured {results['date']} on a {machine['cores']}-core {machine['processor']} (CPU), MindSpore "
            f"{results['versions']['mindspore']}, torch {results['versions']['torch']}.\n\n{HEADER}\n{rows}")


def section(text):
    """The table part of a docs page (between the markers)."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip()


def write_docs_table(results, path):
    text = path.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(f"{text[:start]}\n{table(results)}\n{text[end:]}")
