// Placeholder until the model file format lands.
#include "bpnet/model_io.hpp"
namespace bpnet {
std::string encode_model(const ModelData&) { throw std::logic_error("encode_model: not implemented yet"); }
ModelData decode_model(const void*, std::size_t) { throw std::logic_error("decode_model: not implemented yet"); }
void save_model(const std::string&, const ModelData&) { throw std::logic_error("save_model: not implemented yet"); }
ModelData load_model(const std::string&) { throw std::logic_error("load_model: not implemented yet"); }
}  // namespace bpnet
