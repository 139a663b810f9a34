"""Normalised Arrow tables (one per year, as cached) turned into one pandas frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eigkit.data.columns import code_order, concat_frames


def _restore_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet gives empty categoricals object categories: make them ``str`` like a fresh read."""
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.CategoricalDtype) and dtype.categories.dtype == object:
            categories = pd.Index([str(value) for value in dtype.categories], dtype="str")
            codes = frame[column].cat.codes.to_numpy()
            frame[column] = pd.Categorical.from_codes(codes, categories=categories)
    return frame


def _sorted_dictionaries(table: pa.Table) -> pa.Table:
    """Dictionaries (categories) of a multi-year table in code order (``'2'`` before ``'10'``), indices
    remapped; expects the chunks of each column to share one dictionary (``unify_dictionaries``)."""
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if not pa.types.is_dictionary(field.type) or column.num_chunks == 0:
            continue
        dictionary = column.chunk(0).dictionary
        order = code_order(dictionary)
        if np.array_equal(order, np.arange(len(order))):
            continue
        position = np.empty(len(order), dtype=np.int32)
        position[order] = np.arange(len(order), dtype=np.int32)
        ordered = dictionary.take(pa.array(order))
        chunks = [
            pa.DictionaryArray.from_arrays(pc.take(pa.array(position), chunk.indices), ordered)
            for chunk in column.chunks
        ]
        table = table.set_column(index, field, pa.chunked_array(chunks, type=field.type))
    return table


def tables_to_frame(tables: list[pa.Table]) -> pd.DataFrame:
    """One pandas frame from the Arrow tables of several years (dictionaries unified, codes in order).

    Concatenating in Arrow avoids pandas' slow union of string categories; tables that do not fit one
    schema fall back to :func:`~eigkit.data.columns.concat_frames`.
    """
    if len(tables) == 1:
        return _restore_dtypes(tables[0].to_pandas(split_blocks=True))
    wide = pa.schema(
        [
            field.with_type(pa.dictionary(pa.int32(), field.type.value_type))
            if pa.types.is_dictionary(field.type)
            else field
            for field in tables[0].schema
        ],
        metadata=tables[0].schema.metadata,
    )
    try:
        table = pa.concat_tables([table.cast(wide) for table in tables], promote_options="permissive")
        table = _sorted_dictionaries(table.unify_dictionaries())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError):
        return concat_frames([_restore_dtypes(table.to_pandas()) for table in tables])
    return _restore_dtypes(table.to_pandas(split_blocks=True))
