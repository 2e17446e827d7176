"""torch.set_default_device('cuda') on the fake device: factory functions follow it until reset."""
import ember


def test_set_default_device_cuda_on_fake(fake_cuda):
    ember.set_default_device("cuda")
    try:
        assert ember.get_default_device().type == "cuda"
        assert ember.zeros(2).device.type == "cuda" and ember.tensor([1.0]).device.type == "cuda"
        assert ember.arange(3).device.type == "cuda"
        assert ember.zeros(2, device="cpu").device.type == "cpu"
    finally:
        ember.set_default_device(None)
    assert ember.zeros(2).device.type == "cpu"
