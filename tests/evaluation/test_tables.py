"""The one results table, as the console, the model card and reports print it."""

from deepart_hf.constants import AI, HUMAN
from deepart_hf.evaluation.detector_metric.detector_metric import detection_metrics
from deepart_hf.evaluation.tables import counts_line, results_markdown


def test_results_table():
    references = [HUMAN] * 4 + [AI] * 4
    predictions = [HUMAN, HUMAN, HUMAN, AI, AI, AI, AI, HUMAN]
    results = detection_metrics(predictions, references, [0.1, 0.2, 0.3, 0.6, 0.9, 0.8, 0.7, 0.4])
    header, rule, row = results_markdown(results).splitlines()
    assert header.startswith("| human acc. % | ai acc. % | mean % | accuracy % | AUROC %")
    assert rule.startswith("| --- |")
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[:4] == ["75.00", "75.00", "75.00", "75.00"]
    assert cells[4] == f"{100 * results['auroc']:.2f}"
    assert counts_line(results) == "n = 8 (4 human, 4 ai)"

    single = results_markdown({"accuracy": 1.0, "human_accuracy": 1.0, "ai_accuracy": None})
    assert single.splitlines()[-1].startswith("| 100.00 | n/a | n/a | 100.00 |")
