// KeyGen: prints a new node key pair as "PRIVATE PUBLIC" (base64), like the C ntm-keygen.
//
//   java -cp bindings/java/target/ntmobile-0.3.0.jar examples/java/KeyGen.java > /tmp/alice.key

import org.ntmobile.KeyPair;

public class KeyGen {
  public static void main(String[] args) {
    KeyPair pair = KeyPair.generate();
    System.out.println(pair.privateKey() + " " + pair.publicKey());
  }
}
