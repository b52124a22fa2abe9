"""Speed measurements, each printed beside a reference measured in the same run."""
