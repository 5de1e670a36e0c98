"""Host-side data: datasets by name, producing numpy batches."""

from vst.data.registry import get_dataset, list_datasets, register
