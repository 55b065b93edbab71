"""Data sources (inline, .pt, CSV, synthetic) and splitting samples into batches."""

import dataclasses

import pytest
import torch

from optimstep.core import Scenario, ScenarioError, Stepper
from optimstep.core.data import CsvFile, InlineData, Synthetic, TensorFile, make_batches

F32 = torch.float32


@pytest.fixture
def pair():
    inputs = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    return inputs, inputs.sum(dim=1, keepdim=True)


def write_csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- .pt files -------------------------------------------------------------------------

def test_tensor_file_dict(tmp_path, pair):
    torch.save({"inputs": pair[0], "targets": pair[1]}, tmp_path / "d.pt")
    inputs, targets = TensorFile(tmp_path / "d.pt").load(F32)
    assert torch.equal(inputs, pair[0].float())
    assert torch.equal(targets, pair[1].float())


def test_tensor_file_tuple(tmp_path, pair):
    torch.save(pair, tmp_path / "d.pt")
    inputs, _ = TensorFile(tmp_path / "d.pt").load(F32)
    assert torch.equal(inputs, pair[0].float())


def test_tensor_file_own_keys(tmp_path, pair):
    torch.save({"x": pair[0], "y": pair[1]}, tmp_path / "d.pt")
    _, targets = TensorFile(tmp_path / "d.pt", inputs="x", targets="y").load(F32)
    assert torch.equal(targets, pair[1].float())


def test_tensor_file_casts_to_dtype(tmp_path, pair):
    torch.save(pair, tmp_path / "d.pt")
    assert TensorFile(tmp_path / "d.pt").load(torch.float64)[0].dtype == torch.float64


def test_tensor_file_missing_key_lists_keys(tmp_path, pair):
    torch.save({"x": pair[0], "targets": pair[1]}, tmp_path / "d.pt")
    with pytest.raises(ScenarioError, match=r"invalid data.inputs: 'inputs' .*has 'x', "
                                            r"'targets'"):
        TensorFile(tmp_path / "d.pt").load(F32)


def test_tensor_file_of_three_tensors_rejected(tmp_path, pair):
    torch.save((*pair, pair[0]), tmp_path / "d.pt")
    with pytest.raises(ScenarioError, match="contains a tuple"):
        TensorFile(tmp_path / "d.pt").load(F32)


def test_tensor_file_of_sparse_tensor_rejected(tmp_path, pair):
    sparse = pair[0].to_sparse()
    torch.save({"inputs": sparse, "targets": pair[1]}, tmp_path / "d.pt")
    with pytest.raises(ScenarioError, match=r"^invalid data.inputs: a tensor of layout "
                                            r"torch.sparse_coo \(expected a dense tensor"):
        TensorFile(tmp_path / "d.pt").load(F32)


class Unsafe:
    """A class torch.load(weights_only=True) must refuse to unpickle."""


def test_tensor_file_with_arbitrary_object_rejected(tmp_path, pair):
    torch.save({"inputs": pair[0], "targets": pair[1], "extra": Unsafe()}, tmp_path / "d.pt")
    with pytest.raises(ScenarioError, match=r"weights_only=True"):
        TensorFile(tmp_path / "d.pt").load(F32)


def test_tensor_file_not_a_tensor_file(tmp_path):
    (tmp_path / "d.pt").write_text("inputs,targets\n")
    with pytest.raises(ScenarioError, match="not a tensor file"):
        TensorFile(tmp_path / "d.pt").load(F32)


def test_tensor_file_error_leaves_out_torch_advice(tmp_path):
    # torch suggests weights_only=False, which optimstep never uses: it would run the file.
    (tmp_path / "d.pt").write_text("inputs,targets\n")
    with pytest.raises(ScenarioError) as caught:
        TensorFile(tmp_path / "d.pt").load(F32)
    message = str(caught.value)
    assert "weights_only set to False" not in message
    assert len(message) < 250


def test_tensor_file_missing(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        TensorFile(tmp_path / "nope.pt").load(F32)


def test_tensor_file_complex_tensor_rejected(tmp_path):
    torch.save((torch.zeros(2, 1, dtype=torch.complex64), torch.zeros(2, 1)), tmp_path / "d.pt")
    with pytest.raises(ScenarioError, match="complex64"):
        TensorFile(tmp_path / "d.pt").load(F32)


# --- CSV files -------------------------------------------------------------------------

CSV = "a,b,c\n1,2,3\n4,5,6\n7,8,9\n"


def test_csv_default_columns(tmp_path):
    inputs, targets = CsvFile(write_csv(tmp_path, CSV)).load(F32)
    assert inputs.tolist() == [[1, 2], [4, 5], [7, 8]]
    assert targets.tolist() == [[3], [6], [9]]


def test_csv_columns_by_name(tmp_path):
    inputs, targets = CsvFile(write_csv(tmp_path, CSV), inputs=("c",), targets=("a",)).load(F32)
    assert inputs.tolist() == [[3], [6], [9]]
    assert targets.tolist() == [[1], [4], [7]]


def test_csv_columns_by_index(tmp_path):
    inputs, _ = CsvFile(write_csv(tmp_path, CSV), inputs=(2, 0), targets=(1,)).load(F32)
    assert inputs.tolist() == [[3, 1], [6, 4], [9, 7]]


def test_csv_inputs_default_to_non_targets(tmp_path):
    inputs, _ = CsvFile(write_csv(tmp_path, CSV), targets=("b",)).load(F32)
    assert inputs.tolist() == [[1, 3], [4, 6], [7, 9]]


def test_csv_without_header(tmp_path):
    inputs, _ = CsvFile(write_csv(tmp_path, "1;2\n3;4\n"), header=False, delimiter=";").load(F32)
    assert inputs.tolist() == [[1], [3]]


def test_csv_unknown_column_lists_names(tmp_path):
    with pytest.raises(ScenarioError, match=r"invalid data.targets: 'z' .*a, b, c .*0 to 2"):
        CsvFile(write_csv(tmp_path, CSV), targets=("z",)).load(F32)


def test_csv_non_number_names_line_and_column(tmp_path):
    with pytest.raises(ScenarioError, match=r"line 3, column 'b': 'x' is not a number"):
        CsvFile(write_csv(tmp_path, "a,b\n1,2\n3,x\n")).load(F32)


def test_csv_ragged_row(tmp_path):
    with pytest.raises(ScenarioError, match="line 3 has 1 fields; expected 2"):
        CsvFile(write_csv(tmp_path, "a,b\n1,2\n3\n")).load(F32)


def test_csv_header_only(tmp_path):
    with pytest.raises(ScenarioError, match="no rows of data"):
        CsvFile(write_csv(tmp_path, "a,b\n")).load(F32)


def test_csv_single_column_has_no_inputs(tmp_path):
    with pytest.raises(ScenarioError, match="no column left for inputs"):
        CsvFile(write_csv(tmp_path, "y\n1\n2\n")).load(F32)


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(ScenarioError, match="could not be read as CSV"):
        CsvFile(path).load(F32)


# --- synthetic data --------------------------------------------------------------------

def test_synthetic_is_seeded():
    first, second = Synthetic(seed=3).load(F32), Synthetic(seed=3).load(F32)
    assert torch.equal(first[0], second[0])
    assert torch.equal(first[1], second[1])


def test_synthetic_seed_changes_data():
    assert not torch.equal(Synthetic(seed=1).load(F32)[0], Synthetic(seed=2).load(F32)[0])


def test_synthetic_shapes():
    inputs, targets = Synthetic(samples=10, features=3, outputs=2).load(F32)
    assert (tuple(inputs.shape), tuple(targets.shape)) == ((10, 3), (10, 2))


def test_synthetic_classification_labels():
    _, targets = Synthetic("classification", samples=100).load(F32)
    assert set(targets.unique().tolist()) == {0.0, 1.0}


# --- batches ---------------------------------------------------------------------------

def test_batches_split_in_order(pair):
    batches = make_batches(*pair, batch_size=4)
    assert [b[0].shape[0] for b in batches] == [4, 2]
    assert torch.equal(torch.cat([b[0] for b in batches]), pair[0])


def test_no_batch_size_means_one_batch(pair):
    assert len(make_batches(*pair)) == 1


def test_shuffle_is_a_seeded_permutation(pair):
    first = make_batches(*pair, batch_size=2, shuffle=True, seed=5)
    second = make_batches(*pair, batch_size=2, shuffle=True, seed=5)
    rows = torch.cat([b[0] for b in first])
    assert torch.equal(rows, torch.cat([b[0] for b in second]))
    assert sorted(rows[:, 0].tolist()) == pair[0][:, 0].tolist()


def test_shuffle_keeps_pairs_together(pair):
    for inputs, targets in make_batches(*pair, batch_size=2, shuffle=True, seed=5):
        assert torch.equal(inputs.sum(dim=1, keepdim=True), targets)


def test_shuffle_seeds_differ(pair):
    first = make_batches(*pair, shuffle=True, seed=1)[0][0]
    second = make_batches(*pair, shuffle=True, seed=2)[0][0]
    assert not torch.equal(first, second)


def test_sample_count_mismatch(pair):
    with pytest.raises(ScenarioError, match="same number of samples"):
        make_batches(pair[0], pair[1][:3])


def test_no_samples():
    with pytest.raises(ScenarioError, match="0 samples"):
        make_batches(torch.zeros(0, 1), torch.zeros(0, 1))


# --- scenarios with data ---------------------------------------------------------------

def data_scenario(**changes):
    inputs = [[float(i)] for i in range(6)]
    targets = [[2.0 * i] for i in range(6)]
    return Scenario(data=InlineData(inputs, targets), parameters={}, **changes)


def test_batch_size_sets_batch_count():
    assert len(Stepper.from_scenario(data_scenario(batch_size=2)).batches) == 3


def test_step_uses_batch_of_its_turn():
    stepper = Stepper.from_scenario(data_scenario(batch_size=2))
    records = stepper.run(4)
    weight, bias = records[3].param("weight").before, records[3].param("bias").before
    inputs, targets = stepper.batches[0]
    expected = torch.nn.functional.mse_loss(inputs @ weight.T + bias, targets)
    assert records[3].loss == pytest.approx(expected.item(), rel=1e-6)


def test_batch_size_without_data_rejected():
    with pytest.raises(ScenarioError, match="batch_size: 2 .*unless data is set"):
        Scenario(batch_size=2)


def test_in_features_must_match_data():
    with pytest.raises(ScenarioError, match=r"invalid model.in_features: 3 \(expected 1"):
        data_scenario(in_features=3).build()


def test_targets_must_have_a_column_per_output():
    scenario = dataclasses.replace(data_scenario(), data=InlineData([[1.0], [2.0]], [1.0, 2.0]))
    with pytest.raises(ScenarioError, match=r"targets of shape \(2,\) \(expected \(2, 1\)"):
        scenario.build()
