"""Bad input for our format: every error names the field/file and what was expected."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from _d2_fixtures import TINY, random_batch

from kinetix.data.episodes import open_dataset
from kinetix.data.format import DatasetFormatError, read_manifest, shard_keys
from kinetix.data.reader import FormatReader
from kinetix.data.writer import DatasetWriter

POS = "env_state/polygon/position"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = tmp_path_factory.mktemp("reader") / "ds"
    with DatasetWriter(path, TINY, chunk_trajectories=2, shard_bytes=1024) as w:
        w.append(random_batch(9))
    return path


@pytest.fixture()
def ds(pristine, tmp_path):
    shutil.copytree(pristine, tmp_path / "ds")
    return tmp_path / "ds"


def _edit_manifest(path, fn):
    data = json.loads((path / "dataset.json").read_text())
    fn(data)
    (path / "dataset.json").write_text(json.dumps(data))


def test_reads_rows_and_arbitrary_rows(pristine):
    r = FormatReader(pristine)
    full = r.read(0, 9, [POS, "level_id"])
    picked = r.read_rows([7, 1, 4], [POS, "level_id"])
    np.testing.assert_array_equal(picked[POS], full[POS][[7, 1, 4]])
    assert picked["level_id"].tolist() == [7, 1, 4]
    with pytest.raises(IndexError, match=r"rows \[5, 10\) out of range for 9"):
        r.read(5, 10)
    with pytest.raises(DatasetFormatError, match="field 'nope' is not in"):
        r.read(0, 1, ["nope"])


def test_missing_shard_file(ds):
    key = shard_keys(read_manifest(ds).fields[POS], 9)[1]
    os.remove(ds / key)
    with pytest.raises(DatasetFormatError, match=f"'{POS}': shard file .*{key} is missing"):
        open_dataset(ds)


def test_truncated_shard_file(ds):
    key = shard_keys(read_manifest(ds).fields[POS], 9)[0]
    data = (ds / key).read_bytes()
    (ds / key).write_bytes(data[: len(data) // 2])
    reader = FormatReader(ds)  # opening only checks that files exist
    with pytest.raises(
        DatasetFormatError, match=f"'{POS}': reading trajectories \\[0, 9\\).*{key}"
    ):
        reader.read(0, 9, [POS])


def test_missing_zarr_json(ds):
    os.remove(ds / "action" / "zarr.json")
    with pytest.raises(
        DatasetFormatError, match=r"field 'action': cannot open its zarr array .*action/zarr.json"
    ):
        open_dataset(ds)


def test_field_missing_from_manifest(ds):
    _edit_manifest(ds, lambda d: d.update(fields=[f for f in d["fields"] if f["name"] != POS]))
    with pytest.raises(DatasetFormatError, match=f"field '{POS}' is missing from the manifest"):
        open_dataset(ds)


def test_static_sizes_do_not_match(ds):
    _edit_manifest(ds, lambda d: d["static_env_params"].update(num_polygons=6))
    with pytest.raises(
        DatasetFormatError, match=f"'{POS}' is float32\\[5, 2\\].*imply per-step float32\\[6, 2\\]"
    ):
        open_dataset(ds)


def test_array_shape_or_dtype_disagrees_with_manifest(ds):
    _edit_manifest(ds, lambda d: d.update(num_trajectories=12))
    with pytest.raises(
        DatasetFormatError, match=r"'action': array .* has shape \(9, 8, 6\), expected \(12 or more"
    ):
        open_dataset(ds)


def test_dtype_disagrees_with_manifest(ds):
    def fn(d):
        for f in d["fields"]:
            if f["name"] == "level_id":
                f["dtype"] = "int32"

    _edit_manifest(ds, fn)
    with pytest.raises(
        DatasetFormatError, match="'level_id': array .* dtype int64, manifest says int32"
    ):
        open_dataset(ds)
