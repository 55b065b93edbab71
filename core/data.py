"""Data sources of a scenario (inline, .pt, CSV, synthetic) and splitting them into batches."""

from __future__ import annotations

import csv
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .scenario import ScenarioError

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class InlineData:
    """Inputs and targets written out as (nested) lists of numbers."""

    inputs: Any
    """Inputs, one row per sample."""
    targets: Any
    """Targets, one row per sample."""

    def load(self, dtype: torch.dtype) -> Batch:
        """Return the inputs and targets as tensors of `dtype`."""
        return (_as_tensor(self.inputs, dtype, "data.inputs"),
                _as_tensor(self.targets, dtype, "data.targets"))


@dataclass(frozen=True)
class TensorFile:
    """A file saved with `torch.save`: a dict of two tensors, or an (inputs, targets) pair.

    The file is read with `torch.load(weights_only=True)`, which unpickles tensors and
    plain containers only, so loading it runs no code from the file.
    """

    path: Path
    """The file to read."""
    inputs: str = "inputs"
    """Key of the inputs when the file contains a dict."""
    targets: str = "targets"
    """Key of the targets when the file contains a dict."""

    def load(self, dtype: torch.dtype) -> Batch:
        """Read the file and return its inputs and targets as tensors of `dtype`."""
        _require_file(self.path)
        try:
            content = torch.load(self.path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
            raise ScenarioError(f"invalid data.path: '{self.path}' (not a tensor file that "
                                f"torch.load(weights_only=True) can read: "
                                f"{_load_failure(error)})") from None

        pair = self._pair(content)
        return (_as_tensor(pair[0], dtype, "data.inputs"),
                _as_tensor(pair[1], dtype, "data.targets"))

    def _pair(self, content: Any) -> tuple[Any, Any]:
        if isinstance(content, dict):
            for key in (self.inputs, self.targets):
                if key not in content:
                    missing = "inputs" if key == self.inputs else "targets"
                    raise ScenarioError(
                        f"invalid data.{missing}: {key!r} (not a key of '{self.path}', which has "
                        f"{', '.join(map(repr, content)) or 'no keys'})")
            return content[self.inputs], content[self.targets]
        if isinstance(content, (tuple, list)) and len(content) == 2:
            return content[0], content[1]
        raise ScenarioError(f"invalid data.path: '{self.path}' (contains a "
                            f"{type(content).__name__}; expected a dict with "
                            f"{self.inputs!r} and {self.targets!r} or an (inputs, targets) pair)")


@dataclass(frozen=True)
class CsvFile:
    """A CSV file of numbers; columns are chosen by header name or by 0-based index.

    By default the last column is the target and every other column an input. Each
    chosen column becomes one feature, so inputs and targets are 2-D (samples, columns).
    """

    path: Path
    """The file to read."""
    inputs: tuple[str | int, ...] = ()
    """Input columns; empty means every column that is not a target."""
    targets: tuple[str | int, ...] = ()
    """Target columns; empty means the last column."""
    header: bool = True
    """Whether the first row contains column names."""
    delimiter: str = ","
    """Field separator."""

    def load(self, dtype: torch.dtype) -> Batch:
        """Read the file and return the chosen columns as tensors of `dtype`."""
        _require_file(self.path)
        names, rows = self._read()
        targets = [self._index(c, names, "targets") for c in self.targets] or [len(names) - 1]
        inputs = [self._index(c, names, "inputs") for c in self.inputs] \
            or [i for i in range(len(names)) if i not in targets]
        if not inputs:
            raise ScenarioError(f"invalid data.inputs: [] ('{self.path}' has no column left "
                                f"for inputs; expected at least one input column)")

        values = torch.tensor(rows, dtype=torch.float64)
        return values[:, inputs].to(dtype), values[:, targets].to(dtype)

    def _read(self) -> tuple[list[str], list[list[float]]]:
        try:
            with open(self.path, newline="", encoding="utf-8") as file:
                lines = list(csv.reader(file, delimiter=self.delimiter))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise ScenarioError(f"invalid data.path: '{self.path}' (could not be read as "
                                f"CSV: {error})") from None
        lines = [line for line in lines if line]
        names = lines.pop(0) if self.header and lines else []
        if not lines:
            raise ScenarioError(f"invalid data.path: '{self.path}' (no rows of data; "
                                f"expected at least one)")
        width = len(names) if names else len(lines[0])
        names = [name.strip() for name in names] or [str(i) for i in range(width)]
        first_row = 2 if self.header else 1
        return names, [self._parse(line, number, names)
                       for number, line in enumerate(lines, start=first_row)]

    def _parse(self, line: list[str], number: int, names: list[str]) -> list[float]:
        if len(line) != len(names):
            raise ScenarioError(f"invalid data.path: '{self.path}' (line {number} has "
                                f"{len(line)} fields; expected {len(names)})")
        try:
            return [float(field) for field in line]
        except ValueError:
            bad = next(f for f in line if not _is_number(f))
            column = names[line.index(bad)]
            raise ScenarioError(f"invalid data.path: '{self.path}' (line {number}, column "
                                f"{column!r}: {bad!r} is not a number)") from None

    def _index(self, column: str | int, names: list[str], key: str) -> int:
        if isinstance(column, int) and 0 <= column < len(names):
            return column
        if isinstance(column, str) and column in names:
            return names.index(column)
        raise ScenarioError(f"invalid data.{key}: {column!r} (not a column of '{self.path}'; "
                            f"expected a name in {', '.join(names)} or an index from 0 to "
                            f"{len(names) - 1})")


TASKS = ("regression", "classification")
"""Tasks a synthetic data set can pose."""


@dataclass(frozen=True)
class Synthetic:
    """Seeded random data: standard normal inputs and targets from a random linear teacher.

    regression: targets = tanh(x·W / √features) + noise·ε; classification: targets are 1.0
    where x·w / √features + noise·ε > 0, else 0.0 (labels for BCE with logits).
    """

    task: str = "regression"
    """One of TASKS."""
    samples: int = 256
    """Number of samples."""
    features: int = 8
    """Inputs per sample."""
    outputs: int = 1
    """Targets per sample."""
    noise: float = 0.1
    """Standard deviation of the Gaussian noise added to the teacher's output."""
    seed: int = 0
    """Seed of the generator, independent of the scenario's seed."""

    def load(self, dtype: torch.dtype) -> Batch:
        """Generate the data in float64 and return it as tensors of `dtype`."""
        generator = torch.Generator().manual_seed(self.seed)

        def normal(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=generator, dtype=torch.float64)

        inputs = normal(self.samples, self.features)
        teacher = normal(self.features, self.outputs)
        signal = inputs @ teacher / math.sqrt(self.features)
        noisy = signal + self.noise * normal(self.samples, self.outputs)
        if self.task == "classification":
            targets = (noisy > 0).to(torch.float64)
        else:
            targets = torch.tanh(signal) + self.noise * normal(self.samples, self.outputs)
        return inputs.to(dtype), targets.to(dtype)


DataSource = InlineData | TensorFile | CsvFile | Synthetic
"""Any data source; each has `load(dtype) -> (inputs, targets)`."""


def make_batches(inputs: torch.Tensor, targets: torch.Tensor, batch_size: int | None = None,
                 shuffle: bool = False, seed: int = 0) -> tuple[Batch, ...]:
    """Split samples into batches of `batch_size` (all in one batch when None).

    With `shuffle`, the samples are permuted once by a generator seeded with `seed`, so the
    same seed gives the same batches. The last batch is smaller when `batch_size` does not
    divide the number of samples.
    """
    if inputs.dim() == 0 or targets.dim() == 0 or inputs.shape[0] != targets.shape[0]:
        raise ScenarioError(f"invalid data: inputs of shape {tuple(inputs.shape)} and targets "
                            f"of shape {tuple(targets.shape)} (expected the same number of "
                            f"samples along the first dimension)")
    samples = inputs.shape[0]
    if samples == 0:
        raise ScenarioError("invalid data: 0 samples (expected at least one)")

    if shuffle:
        order = torch.randperm(samples, generator=torch.Generator().manual_seed(seed))
        inputs, targets = inputs[order], targets[order]
    size = samples if batch_size is None else batch_size
    return tuple((inputs[start:start + size], targets[start:start + size])
                 for start in range(0, samples, size))


def _load_failure(error: BaseException) -> str:
    """Return why torch.load failed in a few words, without torch's advice to turn off
    weights_only, which would run the file's code and which optimstep never does."""
    text = " ".join(str(error).split())
    if "weights only load failed" in text.lower():
        # torch's message goes on with that advice; the unpickler's own reason follows it.
        reason = text.partition("WeightsUnpickler error:")[2].strip()
        reason = reason.split(". ")[0].split(" Check the documentation")[0]
        return reason[:120] if reason else "not plain tensors and containers"
    return text[:120]


def _require_file(path: Path) -> None:
    if not path.exists():
        raise ScenarioError(f"invalid data.path: '{path}' (file not found)")
    if not path.is_file():
        raise ScenarioError(f"invalid data.path: '{path}' (not a file)")


def _as_tensor(value: Any, dtype: torch.dtype, key: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided:
            raise ScenarioError(f"invalid {key}: a tensor of layout {value.layout} (expected a "
                                f"dense tensor; save it with .to_dense())")
        if not (value.is_floating_point() or value.dtype in (torch.bool, torch.int64,
                                                             torch.int32, torch.int16,
                                                             torch.int8, torch.uint8)):
            raise ScenarioError(f"invalid {key}: a tensor of dtype {value.dtype} (expected a "
                                f"real-valued tensor)")
        return value.detach().to(dtype)
    try:
        return torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError):
        raise ScenarioError(f"invalid {key}: {_short(value)} (expected numbers, or nested "
                            f"lists of numbers of one shape)") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
