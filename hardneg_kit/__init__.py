"""hardneg-kit: ensemble hard-negative mining for training cross-encoder re-rankers.

Modules, one noun each: :mod:`~hardneg_kit.profiles` (run sizes), :mod:`~hardneg_kit.models`
(encoders and the cross-encoder start), :mod:`~hardneg_kit.corpus` (BEIR data),
:mod:`~hardneg_kit.retrievers`, :mod:`~hardneg_kit.evaluation`, :mod:`~hardneg_kit.mining` (a
package, one question per module), :mod:`~hardneg_kit.errors` (every error the kit raises on
purpose is a :class:`~hardneg_kit.errors.HardnegError`).
Importing the package is cheap: heavy libraries load in the modules that need them.
"""

__version__ = "0.1.0"

import os as _os

# The packaged MiniLM carries an unused ``position_ids`` buffer, which transformers reports as a
# "LOAD REPORT" table at every load: noise that only confuses learners. Set the variable
# yourself to see it.
_os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
