"""Trace files: records to JSON and back, and the reader's errors on bad files."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch

from optimstep.core import Stepper, preset
from optimstep.core.rules.adam import Adam
from optimstep.core.trace import (
    SCHEMA_VERSION, TraceError, decode_tensor, encode_tensor, read_trace, record_from_dict,
    record_to_dict, write_records,
)


def same_tensor(a, b):
    return (a is None and b is None) or (
        a.dtype == b.dtype and a.shape == b.shape and bool(torch.equal(a, b)))


@pytest.fixture(scope="module")
def records():
    return Stepper.from_scenario(preset()).run(5)


@pytest.fixture
def trace_file(tmp_path, records):
    path = tmp_path / "trace.jsonl"
    with open(path, "w", encoding="utf-8") as file:
        write_records(records, file, Adam.panels)
    return path


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16,
                                   torch.bfloat16, torch.complex64, torch.int64])
def test_tensor_round_trip_keeps_dtype(dtype):
    tensor = (torch.arange(6, dtype=torch.float64).reshape(2, 3) / 7).to(dtype)
    decoded = decode_tensor(json.loads(json.dumps(encode_tensor(tensor))),
                            str(dtype).removeprefix("torch."), "t")
    assert same_tensor(decoded, tensor)


def test_tensor_round_trip_nonfinite():
    tensor = torch.tensor([math.nan, math.inf, -math.inf, 1.5])
    decoded = decode_tensor(encode_tensor(tensor), "float32", "t")
    assert torch.allclose(decoded, tensor, rtol=0, atol=0, equal_nan=True)


def test_tensor_round_trip_empty_shape():
    tensor = torch.zeros(0, 3)
    decoded = decode_tensor(encode_tensor(tensor), "float32", "t", shape=[0, 3])
    assert decoded.shape == (0, 3)


def test_decode_rejects_wrong_shape():
    with pytest.raises(TraceError, match="shape"):
        decode_tensor([[1.0, 2.0]], "float32", "params.w.before", shape=[2, 1])


def test_decode_rejects_unknown_dtype():
    with pytest.raises(TraceError, match="float33"):
        decode_tensor([1.0], "float33", "params.w.before")


@pytest.mark.parametrize("index", [0, 2, 4])
def test_record_round_trip_params(records, index):
    record = records[index]
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(record))))
    for live, read in zip(record.params, decoded.params, strict=True):
        for field in ("before", "after", "grad", "computed_update"):
            assert same_tensor(getattr(read, field), getattr(live, field)), (live.name, field)


def test_record_round_trip_state_keys(records):
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(records[1]))))
    assert decoded.param("weight").state.keys() == records[1].param("weight").state.keys()


def test_record_round_trip_state_values(records):
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(records[1]))))
    live = records[1].param("weight").state
    read = decoded.param("weight").state
    assert all(same_tensor(read[key], live[key]) for key in live)


def test_record_round_trip_terms(records):
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(records[1]))))
    live, read = records[1].param("bias"), decoded.param("bias")
    assert [(t.name, t.symbol, t.formula) for t in read.terms] == \
        [(t.name, t.symbol, t.formula) for t in live.terms]


def test_record_round_trip_term_values(records):
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(records[1]))))
    live, read = records[1].param("bias"), decoded.param("bias")
    assert all(same_tensor(a.value, b.value) for a, b in zip(read.terms, live.terms))


def test_record_round_trip_checks(records):
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(records[3]))))
    assert decoded.checks == records[3].checks


def test_record_round_trip_header(records):
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(records[3]))))
    for field in ("step", "loss", "optimizer", "reference"):
        assert getattr(decoded, field) == getattr(records[3], field), field


def test_record_round_trip_hyperparameters(records):
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(records[0]))))
    assert dict(decoded.hyperparameters[0]) == dict(records[0].hyperparameters[0])


def test_carried_terms_written_only_when_different(records):
    assert "carried_terms" not in record_to_dict(records[0])["params"]["weight"]


def test_carried_terms_round_trip_when_different():
    stepper = Stepper.from_scenario(preset())
    stepper.step()
    # Perturb torch's state so the single-step reference starts elsewhere than the carried one.
    with torch.no_grad():
        for state in stepper.optimizer.state.values():
            state["exp_avg"].add_(1.0)
    record = stepper.step()
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(record))))
    live, read = record.param("weight"), decoded.param("weight")
    assert all(same_tensor(a.value, b.value) for a, b in zip(read.carried_terms,
                                                             live.carried_terms, strict=True))


def test_record_from_dict_names_missing_key(records):
    obj = record_to_dict(records[0])
    del obj["params"]["weight"]["after"]
    with pytest.raises(TraceError, match="'after' in params.weight"):
        record_from_dict(obj)


def test_record_from_dict_rejects_newer_schema(records):
    obj = record_to_dict(records[0]) | {"schema": SCHEMA_VERSION + 1}
    with pytest.raises(TraceError, match="unsupported schema"):
        record_from_dict(obj)


def test_read_trace_records(trace_file, records):
    assert [r.step for r in read_trace(trace_file).records] == [r.step for r in records]


def test_read_trace_panels(trace_file):
    assert read_trace(trace_file).panels == Adam.panels


def test_read_trace_never_calls_torch_load(trace_file, monkeypatch):
    def reject_load(*args, **kwargs):
        raise AssertionError("a trace must load without torch.load")

    monkeypatch.setattr(torch, "load", reject_load)
    assert len(read_trace(trace_file).records) == 5


def test_truncated_last_line_is_dropped(trace_file):
    data = trace_file.read_bytes()
    trace_file.write_bytes(data[:-200])
    trace = read_trace(trace_file)
    assert len(trace.records) == 4


def test_truncated_last_line_is_reported(trace_file):
    trace_file.write_bytes(trace_file.read_bytes()[:-200])
    assert read_trace(trace_file).truncated


def test_complete_trace_not_truncated(trace_file):
    assert not read_trace(trace_file).truncated


def test_only_line_truncated(trace_file):
    trace_file.write_bytes(trace_file.read_bytes()[:150])
    with pytest.raises(TraceError, match="no complete step"):
        read_trace(trace_file)


def test_bad_line_names_line_number(trace_file):
    lines = trace_file.read_text().splitlines(keepends=True)
    lines[2] = lines[2][:80] + "\n"
    trace_file.write_text("".join(lines))
    with pytest.raises(TraceError, match=r"trace\.jsonl:3: invalid JSON"):
        read_trace(trace_file)


def test_bad_line_message_is_one_line(trace_file):
    lines = trace_file.read_text().splitlines(keepends=True)
    lines[1] = "{oops\n"
    trace_file.write_text("".join(lines))
    with pytest.raises(TraceError) as error:
        read_trace(trace_file)
    assert "\n" not in str(error.value)


def test_bad_value_names_line_and_key(trace_file):
    lines = trace_file.read_text().splitlines(keepends=True)
    obj = json.loads(lines[3])
    obj["params"]["bias"]["grad"] = [["x"]]
    lines[3] = json.dumps(obj) + "\n"
    trace_file.write_text("".join(lines))
    with pytest.raises(TraceError, match=r":4: invalid params\.bias\.grad"):
        read_trace(trace_file)


def test_steps_out_of_order(trace_file):
    lines = trace_file.read_text().splitlines(keepends=True)
    trace_file.write_text("".join([lines[0], lines[2]]))
    with pytest.raises(TraceError, match=r":2: step 3 is out of order \(expected step 2\)"):
        read_trace(trace_file)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(TraceError, match="empty trace"):
        read_trace(path)


def test_blank_lines_are_skipped(trace_file):
    trace_file.write_text(trace_file.read_text().replace("\n", "\n\n"))
    assert len(read_trace(trace_file).records) == 5


@pytest.mark.parametrize("content, message", [
    (b"step,loss\n1,2.0\n", "not an optimstep trace"),
    (b'{"hello": 1}\n', "not an optimstep step record"),
    (b"[1, 2, 3]\n", "not an optimstep step record"),
    (b"PK\x03\x04\x00\xff\xfe binary\n", "not UTF-8 text"),
])
def test_not_a_trace(tmp_path, content, message):
    path = tmp_path / "other.txt"
    path.write_bytes(content)
    with pytest.raises(TraceError, match=message):
        read_trace(path)


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="cannot read trace"):
        read_trace(tmp_path / "absent.jsonl")


DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex64,
          torch.complex128]


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from(DTYPES),
       shape=st.lists(st.integers(0, 3), max_size=3),
       data=st.data())
def test_tensor_round_trip_is_exact(dtype, shape, data):
    count = math.prod(shape) * (2 if dtype.is_complex else 1)
    values = data.draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=16),
                                min_size=count, max_size=count))
    real = torch.tensor(values, dtype=torch.float64).reshape(
        [*shape, 2] if dtype.is_complex else shape)
    tensor = torch.view_as_complex(real).to(dtype) if dtype.is_complex else real.to(dtype)
    decoded = decode_tensor(json.loads(json.dumps(encode_tensor(tensor))),
                            str(dtype).removeprefix("torch."), "t", shape=shape)
    assert decoded.dtype == tensor.dtype
    assert decoded.shape == tensor.shape
    as_real = torch.view_as_real if dtype.is_complex else (lambda t: t)
    assert torch.allclose(as_real(decoded).double(), as_real(tensor).double(), rtol=0, atol=0,
                          equal_nan=True)


class ComplexScale(torch.nn.Module):
    """y = Re(w·x) with a complex weight, to put complex tensors in a record."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([0.5 + 0.25j, -1.0 + 2.0j]))

    def forward(self, x):
        return (self.weight * x).real


def test_complex_record_round_trip():
    model = ComplexScale()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    batches = [(torch.ones(2, dtype=torch.complex64), torch.zeros(2))]
    record = Stepper(model, optimizer, torch.nn.MSELoss(), batches).run(2)[1]
    decoded = record_from_dict(json.loads(json.dumps(record_to_dict(record))))
    live, read = record.param("weight"), decoded.param("weight")
    for field in ("before", "grad", "after", "computed_update"):
        assert same_tensor(getattr(read, field), getattr(live, field)), field
    assert all(same_tensor(a.value, b.value) for a, b in zip(read.terms, live.terms, strict=True))
    assert all(same_tensor(read.state[k], live.state[k]) for k in live.state)
