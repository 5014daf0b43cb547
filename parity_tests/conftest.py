"""Suite-wide settings: hypothesis without deadlines (MindSpore's first kernel calls are slow), and
MindSpore on the CPU in PyNative mode unless a test says otherwise."""
import ms_erfnet  # noqa: F401  (caps oneDNN before any MindSpore kernel runs)
import mindspore as ms
from hypothesis import HealthCheck, settings

settings.register_profile("erfnet", deadline=None, max_examples=6, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("erfnet")
ms.set_device("CPU")
ms.set_context(mode=ms.PYNATIVE_MODE)
