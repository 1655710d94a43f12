// Run once by the image build, never by a container: loads every module the
// controller and a sidecar load at start, with Node's compile cache pointed
// at the image's cache folder (NODE_COMPILE_CACHE, portable), so each
// container start reads V8's code cache instead of compiling them. Loading
// is all it does: none of these modules acts when imported.
import '../program.ts';
import '../proxy-program.ts'; // what main.ts loads for `meshctl proxy`
import '../report-error.ts';
import '../../controller/run-controller.ts';
import '../../controller/discovery/docker-discovery.ts';
import 'dockerode'; // docker-discovery.ts loads it when discovery starts
import '../../proxy/run-proxy.ts';
import '../../proxy/run-controlled-proxy.ts';
import '../sample-app/start-sample-app.ts';
